/// Average pooling of `max(x, 0)` in one pass, and its backward in one pass: the fused form of
/// ReLU → avgpool, so the ReLU's output (as large as the pooling input) is never written or read.
///
/// Forward reads x once and writes only the pooled output; backward reads x (for the ReLU mask) and
/// the pooled gradient and writes x's gradient once — where the unfused pair makes four full passes.
/// Results equal the unfused `Activation` + `AveragePooling` pair up to summation order (the 2×2
/// path adds in the same order, so it is bit-identical).
public enum ReLUAveragePooling {
    public static func forward(_ g: PoolingGeometry, batch: Int, countIncludePad: Bool, input: UnsafePointer<Float>,
                               output: UnsafeMutablePointer<Float>, pool: ThreadPool) {
        let pass = Pass(geometry: g, countIncludePad: countIncludePad, input: input, gradOutput: nil, destination: output)
        forEachPoolingPlane(batch * g.channels, planeCost: g.inPlane, pool: pool, context: pass) { raw, first, end in
            let pass = raw.load(as: Pass.self)
            let g = pass.geometry
            for plane in first..<end {
                let source = pass.input + plane * g.inPlane
                let destination = pass.destination + plane * g.outPlane
                if g.isTwoByTwoStrideTwo {
                    ReLUAveragePooling.forwardTwoByTwoPlane(g, source, destination)
                } else {
                    ReLUAveragePooling.forwardPlane(g, pass.countIncludePad, source, destination)
                }
            }
        }
    }

    /// gradInput = [x > 0] · Σ over windows containing the element of gradOutput / divisor (ReLU's
    /// gradient at exactly 0 is 0, as PyTorch's).
    public static func backward(_ g: PoolingGeometry, batch: Int, countIncludePad: Bool, input: UnsafePointer<Float>,
                                gradOutput: UnsafePointer<Float>, gradInput: UnsafeMutablePointer<Float>, pool: ThreadPool) {
        let pass = Pass(geometry: g, countIncludePad: countIncludePad, input: input, gradOutput: gradOutput,
                        destination: gradInput)
        forEachPoolingPlane(batch * g.channels, planeCost: g.inPlane, pool: pool, context: pass) { raw, first, end in
            let pass = raw.load(as: Pass.self)
            let g = pass.geometry
            guard let gradOutput = pass.gradOutput else { return }  // invariant: backward sets it
            for plane in first..<end {
                let x = pass.input + plane * g.inPlane
                let gradients = gradOutput + plane * g.outPlane
                let destination = pass.destination + plane * g.inPlane
                if g.isTwoByTwoStrideTwo {
                    ReLUAveragePooling.backwardTwoByTwoPlane(g, x, gradients, destination)
                } else {
                    ReLUAveragePooling.backwardPlane(g, pass.countIncludePad, x, gradients, destination)
                }
            }
        }
    }

    /// 2×2 stride 2: the `AveragePooling` fast path with the ReLU applied to each loaded value.
    static func forwardTwoByTwoPlane(_ g: PoolingGeometry, _ source: UnsafePointer<Float>, _ destination: UnsafeMutablePointer<Float>) {
        AveragePooling.forwardTwoByTwoPlane(g, source, destination, applyingReLU: true)
    }

    /// 2×2 stride 2 backward: a quarter of the window's gradient where x > 0, else 0; cut-off rows and
    /// columns get 0. Blocks of 16, 8 or 4 windows (`forEachTwoByTwoBlock`, so narrow rows such as
    /// Model B's 14 and 7 are vectorised); a last block overlapping the one before re-reads x there, so
    /// `destination` must not overlap `x` (the fused layer writes the separate input-gradient buffer).
    static func backwardTwoByTwoPlane(_ g: PoolingGeometry, _ x: UnsafePointer<Float>, _ gradients: UnsafePointer<Float>,
                                      _ destination: UnsafeMutablePointer<Float>) {
        let width = g.inWidth, outWidth = g.outWidth
        for outRow in 0..<g.outHeight {
            let offsetTop = 2 * outRow * width, offsetBottom = offsetTop + width
            let rowGradients = gradients + outRow * outWidth
            forEachTwoByTwoBlock(outWidth, sixteen: { column in
                let spread = (VectorAccess.load16(rowGradients + column) * 0.25).duplicatingEachLane
                let xTop = VectorAccess.load32(x + offsetTop + 2 * column)
                let xBottom = VectorAccess.load32(x + offsetBottom + 2 * column)
                VectorAccess.store(spread.replacing(with: 0, where: xTop .<= 0), destination + offsetTop + 2 * column)
                VectorAccess.store(spread.replacing(with: 0, where: xBottom .<= 0), destination + offsetBottom + 2 * column)
            }, eight: { column in
                let spread = (VectorAccess.load8(rowGradients + column) * 0.25).duplicatingEachLane
                let xTop = VectorAccess.load16(x + offsetTop + 2 * column)
                let xBottom = VectorAccess.load16(x + offsetBottom + 2 * column)
                VectorAccess.store(spread.replacing(with: 0, where: xTop .<= 0), destination + offsetTop + 2 * column)
                VectorAccess.store(spread.replacing(with: 0, where: xBottom .<= 0), destination + offsetBottom + 2 * column)
            }, four: { column in
                let spread = (VectorAccess.load4(rowGradients + column) * 0.25).duplicatingEachLane
                let xTop = VectorAccess.load8(x + offsetTop + 2 * column)
                let xBottom = VectorAccess.load8(x + offsetBottom + 2 * column)
                VectorAccess.store(spread.replacing(with: 0, where: xTop .<= 0), destination + offsetTop + 2 * column)
                VectorAccess.store(spread.replacing(with: 0, where: xBottom .<= 0), destination + offsetBottom + 2 * column)
            }, one: { column in
                let share = rowGradients[column] * 0.25
                for rowStart in stride(from: offsetTop, through: offsetBottom, by: width) {
                    let left = rowStart + 2 * column
                    destination[left] = x[left] > 0 ? share : 0
                    destination[left + 1] = x[left + 1] > 0 ? share : 0
                }
            })
        }
        g.zeroTwoByTwoRemainder(destination)
    }

    /// Any window, stride and padding.
    static func forwardPlane(_ g: PoolingGeometry, _ countIncludePad: Bool, _ source: UnsafePointer<Float>,
                             _ destination: UnsafeMutablePointer<Float>) {
        for outRow in 0..<g.outHeight {
            for outColumn in 0..<g.outWidth {
                let window = g.window(outRow: outRow, outColumn: outColumn)
                var sum: Float = 0
                for row in window.rows {
                    for column in window.columns { sum += max(source[row * g.inWidth + column], 0) }
                }
                destination[outRow * g.outWidth + outColumn] = sum / AveragePooling.divisor(g, outRow, outColumn, countIncludePad)
            }
        }
    }

    /// Any window, stride and padding: shares are added only where x > 0 (the mask multiplies the sum).
    static func backwardPlane(_ g: PoolingGeometry, _ countIncludePad: Bool, _ x: UnsafePointer<Float>,
                              _ gradients: UnsafePointer<Float>, _ destination: UnsafeMutablePointer<Float>) {
        Elementwise.fill(count: g.inPlane, value: 0, destination)
        for outRow in 0..<g.outHeight {
            for outColumn in 0..<g.outWidth {
                let window = g.window(outRow: outRow, outColumn: outColumn)
                let share = gradients[outRow * g.outWidth + outColumn] / AveragePooling.divisor(g, outRow, outColumn, countIncludePad)
                for row in window.rows {
                    for column in window.columns where x[row * g.inWidth + column] > 0 {
                        destination[row * g.inWidth + column] += share
                    }
                }
            }
        }
    }

    /// What a plane task reads (C-convention tasks cannot capture).
    private struct Pass {
        let geometry: PoolingGeometry
        let countIncludePad: Bool
        let input: UnsafePointer<Float>
        let gradOutput: UnsafePointer<Float>?
        let destination: UnsafeMutablePointer<Float>
    }
}
