/// The merge of a squeeze-and-excitation block: out[n, c, :] = x[n, c, :]·gate[n, c], the gate being
/// one value per image and channel (a [N, C, 1, 1] tensor) broadcast over the H·W plane.
public enum ChannelwiseMultiply {
    /// `output` may alias `input`.
    public static func forward(batch: Int, channels: Int, spatial: Int, input: UnsafePointer<Float>, gate: UnsafePointer<Float>,
                               output: UnsafeMutablePointer<Float>, pool: ThreadPool) {
        let pass = ForwardPass(spatial: spatial, input: input, gate: gate, output: output)
        forEachPoolingPlane(batch * channels, planeCost: spatial, pool: pool, context: pass) { raw, first, end in
            let pass = raw.load(as: ForwardPass.self)
            for plane in first..<end {
                let scale = pass.gate[plane]
                let x = pass.input + plane * pass.spatial, y = pass.output + plane * pass.spatial
                forEachVectorBlock(pass.spatial) { i in
                    VectorAccess.store(VectorAccess.load16(x + i) * scale, y + i)
                } scalar: { i in
                    y[i] = x[i] * scale
                }
            }
        }
    }

    /// gradInput[n, c, :] = gradOutput·gate[n, c]; gradGate[n, c] (overwritten) = Σ over the plane of
    /// gradOutput·x. Pass nil for a gradient that is not needed. `gradInput` may alias `gradOutput`
    /// (each plane's gate gradient is summed before its input gradient is written).
    public static func backward(batch: Int, channels: Int, spatial: Int, input: UnsafePointer<Float>, gate: UnsafePointer<Float>,
                                gradOutput: UnsafePointer<Float>, gradInput: UnsafeMutablePointer<Float>?,
                                gradGate: UnsafeMutablePointer<Float>?, pool: ThreadPool) {
        let pass = BackwardPass(spatial: spatial, input: input, gate: gate, gradOutput: gradOutput, gradInput: gradInput,
                                gradGate: gradGate)
        forEachPoolingPlane(batch * channels, planeCost: spatial, pool: pool, context: pass) { raw, first, end in
            let pass = raw.load(as: BackwardPass.self)
            for plane in first..<end {
                let offset = plane * pass.spatial
                let x = pass.input + offset, dy = pass.gradOutput + offset
                if let gradGate = pass.gradGate {
                    var vector = SIMD16<Float>()
                    var tail: Float = 0
                    forEachVectorBlock(pass.spatial) { i in
                        vector = vector.addingProduct(VectorAccess.load16(dy + i), VectorAccess.load16(x + i))
                    } scalar: { i in
                        tail = tail.addingProduct(dy[i], x[i])
                    }
                    gradGate[plane] = vector.sum() + tail
                }
                if let gradInput = pass.gradInput {
                    let scale = pass.gate[plane], dx = gradInput + offset
                    forEachVectorBlock(pass.spatial) { i in
                        VectorAccess.store(VectorAccess.load16(dy + i) * scale, dx + i)
                    } scalar: { i in
                        dx[i] = dy[i] * scale
                    }
                }
            }
        }
    }

    /// What a forward plane task reads (C-convention tasks cannot capture).
    private struct ForwardPass {
        let spatial: Int
        let input: UnsafePointer<Float>, gate: UnsafePointer<Float>
        let output: UnsafeMutablePointer<Float>
    }

    /// What a backward plane task reads.
    private struct BackwardPass {
        let spatial: Int
        let input: UnsafePointer<Float>, gate: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>
        let gradInput: UnsafeMutablePointer<Float>?
        let gradGate: UnsafeMutablePointer<Float>?
    }
}
