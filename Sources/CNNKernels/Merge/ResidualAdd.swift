/// The residual sum `add` computes, with the ReLU that usually follows it fused in, threaded over the
/// pool in SIMD chunks. Fusing saves the ReLU's own passes over memory (one each way); the backward
/// writes the (masked) gradient to every input's gradient in the same pass, skipping an input whose
/// gradient buffer is the output gradient itself (the memory plan shares it when that input has no
/// other reader).
public enum ResidualAdd {
    /// output = a + b, then max(·, 0) with `relu`. `output` may alias `a` or `b`.
    public static func forward(count: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
                               into output: UnsafeMutablePointer<Float>, relu: Bool, pool: ThreadPool) {
        let pass = ForwardPass(a: a, b: b, output: output, relu: relu)
        ElementwiseChunking.forEachChunk(count, pool: pool, context: pass) { raw, start, end in
            raw.load(as: ForwardPass.self).run(start, end)
        }
    }

    /// g = dy masked where `output` (the fused ReLU's output) is not positive with `relu`, else dy; g is
    /// written back to `gradOutput` (with `relu`) and to each non-nil target that is not `gradOutput`.
    public static func backward(count: Int, output: UnsafePointer<Float>, gradOutput: UnsafeMutablePointer<Float>, relu: Bool,
                                targets first: UnsafeMutablePointer<Float>?, _ second: UnsafeMutablePointer<Float>?,
                                pool: ThreadPool) {
        let first = first == gradOutput ? nil : first, second = second == gradOutput ? nil : second
        guard relu || first != nil || second != nil else { return }
        let pass = BackwardPass(output: output, gradOutput: gradOutput, relu: relu, first: first, second: second)
        ElementwiseChunking.forEachChunk(count, pool: pool, context: pass) { raw, start, end in
            raw.load(as: BackwardPass.self).run(start, end)
        }
    }

    private struct ForwardPass {
        let a: UnsafePointer<Float>, b: UnsafePointer<Float>
        let output: UnsafeMutablePointer<Float>
        let relu: Bool

        @inline(__always) func run(_ start: Int, _ end: Int) {
            let a = a + start, b = b + start, y = output + start, count = end - start
            if relu {
                forEachVectorBlock(count) { i in
                    let v = VectorAccess.load16(a + i) + VectorAccess.load16(b + i)
                    VectorAccess.store(ActivationFunctions.relu(v), y + i)
                } scalar: { i in
                    let v = a[i] + b[i]
                    y[i] = v < 0 ? 0 : v
                }
            } else {
                forEachVectorBlock(count) { i in
                    VectorAccess.store(VectorAccess.load16(a + i) + VectorAccess.load16(b + i), y + i)
                } scalar: { i in
                    y[i] = a[i] + b[i]
                }
            }
        }
    }

    private struct BackwardPass {
        let output: UnsafePointer<Float>
        let gradOutput: UnsafeMutablePointer<Float>
        let relu: Bool
        let first: UnsafeMutablePointer<Float>?, second: UnsafeMutablePointer<Float>?

        @inline(__always) func run(_ start: Int, _ end: Int) {
            let y = output + start, dy = gradOutput + start, count = end - start
            switch (relu, first.map { $0 + start }, second.map { $0 + start }) {
            case (true, let t0?, let t1?):
                masked(count, y, dy) { g, i in VectorAccess.store(g, t0 + i); VectorAccess.store(g, t1 + i) } scalar: { g, i in t0[i] = g; t1[i] = g }
            case (true, let t0?, nil), (true, nil, let t0?):
                masked(count, y, dy) { g, i in VectorAccess.store(g, t0 + i) } scalar: { g, i in t0[i] = g }
            case (true, nil, nil):
                masked(count, y, dy) { _, _ in } scalar: { _, _ in }
            case (false, let t0?, let t1?):
                forEachVectorBlock(count) { i in
                    let g = VectorAccess.load16(dy + i)
                    VectorAccess.store(g, t0 + i); VectorAccess.store(g, t1 + i)
                } scalar: { i in t0[i] = dy[i]; t1[i] = dy[i] }
            case (false, let t0?, nil), (false, nil, let t0?):
                t0.update(from: dy, count: count)
            case (false, nil, nil):
                break
            }
        }

        /// g = y > 0 ? dy : 0, stored back into dy and handed to `store`.
        @inline(__always) private func masked(_ count: Int, _ y: UnsafePointer<Float>, _ dy: UnsafeMutablePointer<Float>,
                                              _ store: (SIMD16<Float>, Int) -> Void, scalar: (Float, Int) -> Void) {
            forEachVectorBlock(count) { i in
                let g = ActivationFunctions.reluGradient(VectorAccess.load16(y + i), VectorAccess.load16(dy + i))
                VectorAccess.store(g, dy + i)
                store(g, i)
            } scalar: { i in
                let g: Float = y[i] > 0 ? dy[i] : 0
                dy[i] = g
                scalar(g, i)
            }
        }
    }
}
