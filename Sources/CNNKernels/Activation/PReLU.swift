/// PyTorch `nn.PReLU` on [N, C, spatial] (NCHW with spatial = H·W, or [N, C] with spatial = 1):
/// y = x for x > 0, a·x otherwise, with a learnable slope a per channel (`slopeCount` = C) or one
/// slope shared by every channel (`slopeCount` = 1, PyTorch's default `num_parameters=1`).
public enum PReLU {
    /// Most parts a shared-slope backward splits the channels into: its per-part partial sums live
    /// in a fixed-size stack value, so no workspace is needed.
    static let maximumSharedParts = 16

    public static func forward(batch: Int, channels: Int, spatial: Int, slopeCount: Int, input: UnsafePointer<Float>,
                               slopes: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, pool: ThreadPool) {
        let pass = Pass(channels: channels, spatial: spatial, slopeCount: slopeCount, input: input, slopes: slopes,
                        gradOutput: input, values: output, gradSlopes: output, partials: nil)
        forEachPoolingPlane(batch * channels, planeCost: spatial, pool: pool, context: pass) { raw, first, end in
            let pass = raw.load(as: Pass.self)
            for plane in first..<end {
                let slope = pass.slope(channel: plane % pass.channels)
                let x = pass.input + plane * pass.spatial, y = pass.values + plane * pass.spatial
                forEachVectorBlock(pass.spatial) { i in
                    let value = VectorAccess.load16(x + i)
                    VectorAccess.store(value.replacing(with: value * slope, where: value .<= 0), y + i)
                } scalar: { i in
                    y[i] = x[i] > 0 ? x[i] : x[i] * slope
                }
            }
        }
    }

    /// gradInput = gradOutput where x > 0, a·gradOutput otherwise (so a at exactly 0, as PyTorch);
    /// gradSlopes (overwritten, `slopeCount` values) = Σ over batch and spatial (and, for a shared
    /// slope, channels) of x·gradOutput where x ≤ 0. Sums are accumulated in Double per channel.
    /// `gradInput` may alias `gradOutput`.
    public static func backward(batch: Int, channels: Int, spatial: Int, slopeCount: Int, input: UnsafePointer<Float>,
                                slopes: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>,
                                gradInput: UnsafeMutablePointer<Float>, gradSlopes: UnsafeMutablePointer<Float>,
                                pool: ThreadPool) {
        let perChannel = max(1, batch * spatial)
        let minimumChannels = max(1, ElementwiseChunking.minimumChunk / perChannel)
        if slopeCount != 1 {
            let pass = Pass(channels: channels, spatial: spatial, slopeCount: slopeCount, input: input, slopes: slopes,
                            gradOutput: gradOutput, values: gradInput, gradSlopes: gradSlopes, partials: nil, batch: batch)
            pool.parallelFor(channels, minimumChunk: minimumChannels, context: pass) { raw, first, end in
                let pass = raw.load(as: Pass.self)
                for channel in first..<end { pass.gradSlopes[channel] = Float(pass.backward(channel: channel)) }
            }
            return
        }
        // One shared slope: each part sums its channels into its own slot, then the slots are added
        // in part order (deterministic for a given thread count).
        var partials = SIMD16<Double>()
        let parts = max(1, min(pool.threadCount, maximumSharedParts, channels / minimumChannels))
        withUnsafeMutableBytes(of: &partials) { bytes in
            let slots = bytes.baseAddress.map { $0.assumingMemoryBound(to: Double.self) }
            let pass = Pass(channels: channels, spatial: spatial, slopeCount: slopeCount, input: input, slopes: slopes,
                            gradOutput: gradOutput, values: gradInput, gradSlopes: gradSlopes, partials: slots, batch: batch)
            pool.forEachPart(of: channels, parts: parts, context: pass) { raw, part, first, end in
                let pass = raw.load(as: Pass.self)
                var sum: Double = 0
                for channel in first..<end { sum += pass.backward(channel: channel) }
                pass.partials?[part] = sum
            }
        }
        var total: Double = 0
        for part in 0..<parts { total += partials[part] }
        gradSlopes[0] = Float(total)
    }

    /// What a plane or channel task reads. Forward writes `values` = output; backward writes
    /// `values` = gradInput and the slope gradients.
    private struct Pass {
        let channels: Int, spatial: Int, slopeCount: Int
        let input: UnsafePointer<Float>, slopes: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>
        let values: UnsafeMutablePointer<Float>, gradSlopes: UnsafeMutablePointer<Float>
        let partials: UnsafeMutablePointer<Double>?
        var batch = 0

        @inline(__always) func slope(channel: Int) -> Float { slopes[slopeCount == 1 ? 0 : channel] }

        /// Writes gradInput for every plane of `channel`; returns that channel's Σ x·dy over x ≤ 0.
        func backward(channel: Int) -> Double {
            let slope = self.slope(channel: channel)
            var total: Double = 0
            for image in 0..<batch {
                let offset = (image * channels + channel) * spatial
                let x = input + offset, dy = gradOutput + offset, dx = values + offset
                var vector = SIMD16<Float>()
                var tail: Float = 0
                forEachVectorBlock(spatial) { i in
                    let value = VectorAccess.load16(x + i), gradient = VectorAccess.load16(dy + i)
                    let negative = value .<= 0
                    vector = vector.addingProduct(value.replacing(with: 0, where: .!negative), gradient)
                    VectorAccess.store(gradient.replacing(with: gradient * slope, where: negative), dx + i)
                } scalar: { i in
                    let value = x[i], gradient = dy[i]
                    if value > 0 {
                        dx[i] = gradient
                    } else {
                        tail = tail.addingProduct(value, gradient)
                        dx[i] = gradient * slope
                    }
                }
                total += Double(vector.sum()) + Double(tail)
            }
            return total
        }
    }
}
