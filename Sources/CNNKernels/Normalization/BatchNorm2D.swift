/// Batch normalisation over NCHW tensors, per channel (PyTorch `nn.BatchNorm2d`), threaded over channels.
public enum BatchNorm2D {
    /// Training: batch statistics (biased variance for normalising), running stats updated with unbiased
    /// variance and momentum (PyTorch: running = (1−m)·running + m·stat). saveMean/saveInvStd (per channel)
    /// are for backward.
    public static func forwardTraining(batch: Int, channels: Int, spatial: Int, eps: Float, momentum: Float,
                                       input: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>,
                                       runningMean: UnsafeMutablePointer<Float>, runningVar: UnsafeMutablePointer<Float>,
                                       saveMean: UnsafeMutablePointer<Float>, saveInvStd: UnsafeMutablePointer<Float>,
                                       output: UnsafeMutablePointer<Float>, relu: Bool = false, pool: ThreadPool) {
        let count = batch * spatial
        guard count > 0 else { return }
        let pass = TrainingForward(batch: batch, channels: channels, spatial: spatial, eps: eps, momentum: momentum,
                                   input: input, weight: weight, bias: bias, runningMean: runningMean,
                                   runningVar: runningVar, saveMean: saveMean, saveInvStd: saveInvStd, output: output,
                                   relu: relu)
        forEachChannel(channels, batch: batch, spatial: spatial, pool: pool, context: pass) { raw, first, end in
            let pass = raw.load(as: TrainingForward.self)
            let block = BatchNorm2D.blockChannels(batch: pass.batch, spatial: pass.spatial)
            for start in stride(from: first, to: end, by: block) { pass.normalise(first: start, end: min(start + block, end)) }
        }
    }

    /// Inference: y = (x − runningMean)/√(runningVar + eps)·weight + bias (then max(y, 0) with `relu`).
    public static func forwardInference(batch: Int, channels: Int, spatial: Int, eps: Float, input: UnsafePointer<Float>,
                                        weight: UnsafePointer<Float>, bias: UnsafePointer<Float>, runningMean: UnsafePointer<Float>,
                                        runningVar: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, relu: Bool = false,
                                        pool: ThreadPool) {
        let pass = InferenceForward(batch: batch, channels: channels, spatial: spatial, eps: eps, input: input,
                                    weight: weight, bias: bias, runningMean: runningMean, runningVar: runningVar,
                                    output: output, relu: relu)
        forEachChannel(channels, batch: batch, spatial: spatial, pool: pool, context: pass) { raw, first, end in
            let pass = raw.load(as: InferenceForward.self)
            let block = BatchNorm2D.blockChannels(batch: pass.batch, spatial: pass.spatial)
            for start in stride(from: first, to: end, by: block) { pass.normalise(first: start, end: min(start + block, end)) }
        }
    }

    /// Training-mode backward: gradBias = Σdy, gradWeight = Σdy·x̂,
    /// gradInput = weight·invStd·(dy − Σdy/N − x̂·Σdy·x̂/N).
    /// With `reluOutput` (the forward ran with `relu`, writing max(y, 0) there), dy is first masked to 0
    /// where that output is not positive — the ReLU's backward, done inside both passes instead of a
    /// pass of its own (PyTorch's ReLU gradient is 0 at exactly 0).
    public static func backward(batch: Int, channels: Int, spatial: Int, input: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>,
                                weight: UnsafePointer<Float>, saveMean: UnsafePointer<Float>, saveInvStd: UnsafePointer<Float>,
                                gradInput: UnsafeMutablePointer<Float>, gradWeight: UnsafeMutablePointer<Float>,
                                gradBias: UnsafeMutablePointer<Float>, reluOutput: UnsafePointer<Float>? = nil, pool: ThreadPool) {
        let count = batch * spatial
        guard count > 0 else { return }
        let pass = TrainingBackward(batch: batch, channels: channels, spatial: spatial, input: input,
                                    gradOutput: gradOutput, weight: weight, saveMean: saveMean, saveInvStd: saveInvStd,
                                    gradInput: gradInput, gradWeight: gradWeight, gradBias: gradBias, reluOutput: reluOutput)
        forEachChannel(channels, batch: batch, spatial: spatial, pool: pool, context: pass) { raw, first, end in
            let pass = raw.load(as: TrainingBackward.self)
            let block = BatchNorm2D.blockChannels(batch: pass.batch, spatial: pass.spatial)
            for start in stride(from: first, to: end, by: block) { pass.backward(first: start, end: min(start + block, end)) }
        }
    }

    /// What a training-forward channel task reads (C-convention tasks cannot capture).
    private struct TrainingForward {
        let batch: Int, channels: Int, spatial: Int
        let eps: Float, momentum: Float
        let input: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>
        let runningMean: UnsafeMutablePointer<Float>, runningVar: UnsafeMutablePointer<Float>
        let saveMean: UnsafeMutablePointer<Float>, saveInvStd: UnsafeMutablePointer<Float>
        let output: UnsafeMutablePointer<Float>
        let relu: Bool

        /// Channels first..<end (at most `BatchNorm2D.maximumBlock`), image by image: each image's planes
        /// of the block are contiguous, so small planes are read in runs rather than one page per plane.
        /// Per channel, the sums run over images in the same order as one channel at a time would.
        func normalise(first: Int, end: Int) {
            var storage = (SIMD64<Double>(), SIMD64<Double>())
            withUnsafeMutableBytes(of: &storage) { raw in
                let doubles = raw.baseAddress!.assumingMemoryBound(to: Double.self)
                normalise(first: first, end: end, sums: doubles - first, squares: doubles + BatchNorm2D.maximumBlock - first)
            }
        }

        /// `sums` and `squares` are indexed by channel, zeroed.
        @inline(__always) private func normalise(first: Int, end: Int, sums: UnsafeMutablePointer<Double>,
                                                 squares: UnsafeMutablePointer<Double>) {
            let count = batch * spatial
            for image in 0..<batch {
                for channel in first..<end {
                    sums[channel] += Double(BatchNorm2D.planeSum(input + (image * channels + channel) * spatial, spatial))
                }
            }
            for channel in first..<end { saveMean[channel] = Float(sums[channel] / Double(count)) }
            for image in 0..<batch {
                for channel in first..<end {
                    squares[channel] += Double(BatchNorm2D.planeSquaredDeviation(input + (image * channels + channel) * spatial,
                                                                                 spatial, saveMean[channel]))
                }
            }
            for channel in first..<end {
                let mean = saveMean[channel]
                let variance = squares[channel] / Double(count)
                let invStd = Float(1 / (variance + Double(eps)).squareRoot())
                saveInvStd[channel] = invStd
                let unbiased = count > 1 ? variance * Double(count) / Double(count - 1) : variance
                runningMean[channel] = (1 - momentum) * runningMean[channel] + momentum * mean
                runningVar[channel] = (1 - momentum) * runningVar[channel] + momentum * Float(unbiased)
            }
            for image in 0..<batch {
                for channel in first..<end {
                    let offset = (image * channels + channel) * spatial
                    BatchNorm2D.planeAffine(input + offset, output + offset, spatial, saveMean[channel], weight[channel] * saveInvStd[channel],
                                            bias[channel], relu: relu)
                }
            }
        }
    }

    /// What an inference-forward channel task reads.
    private struct InferenceForward {
        let batch: Int, channels: Int, spatial: Int
        let eps: Float
        let input: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>
        let runningMean: UnsafePointer<Float>, runningVar: UnsafePointer<Float>
        let output: UnsafeMutablePointer<Float>
        let relu: Bool

        func normalise(first: Int, end: Int) {
            for channel in first..<end { normalise(channel: channel) }
        }

        func normalise(channel: Int) {
            let planes = ChannelPlanes(channel: channel, channels: channels, spatial: spatial)
            let scale = weight[channel] / (runningVar[channel] + eps).squareRoot()
            for image in 0..<batch {
                BatchNorm2D.planeAffine(input + planes.offset(image), output + planes.offset(image), spatial, runningMean[channel],
                                        scale, bias[channel], relu: relu)
            }
        }
    }

    /// What a backward channel task reads.
    private struct TrainingBackward {
        let batch: Int, channels: Int, spatial: Int
        let input: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>, weight: UnsafePointer<Float>
        let saveMean: UnsafePointer<Float>, saveInvStd: UnsafePointer<Float>
        let gradInput: UnsafeMutablePointer<Float>, gradWeight: UnsafeMutablePointer<Float>
        let gradBias: UnsafeMutablePointer<Float>
        let reluOutput: UnsafePointer<Float>?

        /// Channels first..<end, image by image (as `TrainingForward.normalise`), the ReLU's mask applied
        /// to dy in both passes when `reluOutput` is set.
        func backward(first: Int, end: Int) {
            var storage = (SIMD64<Double>(), SIMD64<Double>(), SIMD64<Float>(), SIMD64<Float>())
            withUnsafeMutableBytes(of: &storage) { raw in
                let doubles = raw.baseAddress!.assumingMemoryBound(to: Double.self)
                let floats = (raw.baseAddress! + 2 * BatchNorm2D.maximumBlock * MemoryLayout<Double>.stride)
                    .assumingMemoryBound(to: Float.self)
                backward(first: first, end: end, sumGradient: doubles - first, sumGradientCentered: doubles + BatchNorm2D.maximumBlock - first,
                         meanGradients: floats - first, centeredFactors: floats + BatchNorm2D.maximumBlock - first)
            }
        }

        /// The per-channel scratch is indexed by channel, zeroed.
        @inline(__always) private func backward(first: Int, end: Int, sumGradient: UnsafeMutablePointer<Double>,
                                                sumGradientCentered: UnsafeMutablePointer<Double>,
                                                meanGradients: UnsafeMutablePointer<Float>, centeredFactors: UnsafeMutablePointer<Float>) {
            let count = batch * spatial
            for image in 0..<batch {
                for channel in first..<end {
                    let offset = (image * channels + channel) * spatial
                    let sums = if let reluOutput {
                        BatchNorm2D.planeMaskedGradientSums(input + offset, gradOutput + offset, reluOutput + offset, spatial,
                                                            saveMean[channel])
                    } else {
                        BatchNorm2D.planeGradientSums(input + offset, gradOutput + offset, spatial, saveMean[channel])
                    }
                    sumGradient[channel] += Double(sums.gradient)
                    sumGradientCentered[channel] += Double(sums.gradientCentered)
                }
            }
            for channel in first..<end {
                let invStd = saveInvStd[channel]
                let gradientXHat = sumGradientCentered[channel] * Double(invStd)
                gradBias[channel] = Float(sumGradient[channel])
                gradWeight[channel] = Float(gradientXHat)
                meanGradients[channel] = Float(sumGradient[channel] / Double(count))
                centeredFactors[channel] = Float(gradientXHat / Double(count)) * invStd
            }
            for image in 0..<batch {
                for channel in first..<end {
                    let offset = (image * channels + channel) * spatial
                    BatchNorm2D.planeInputGradient(input + offset, gradOutput + offset, reluOutput.map { $0 + offset }, gradInput + offset,
                                                   spatial, mean: saveMean[channel], meanGradient: meanGradients[channel],
                                                   centeredFactor: centeredFactors[channel],
                                                   scale: weight[channel] * saveInvStd[channel])
                }
            }
        }
    }

    private struct ChannelPlanes {
        let channel: Int, channels: Int, spatial: Int
        @inline(__always) func offset(_ image: Int) -> Int { (image * channels + channel) * spatial }
    }

    /// Most channels a task normalises together (the per-channel sums live in SIMD64 registers' worth of stack).
    static let maximumBlock = 64

    /// Channels per block: about 64K elements (256 KiB a tensor, so a block's passes after the first hit the
    /// L2 cache), at most `maximumBlock`.
    @inline(__always) static func blockChannels(batch: Int, spatial: Int) -> Int {
        min(maximumBlock, max(1, 65_536 / max(1, batch * spatial)))
    }

    /// Runs `body(context, first, end)` over channel ranges, at least ~16K elements of work per chunk; the
    /// body walks its range in blocks of `blockChannels` (any blocking gives the same bits).
    @inline(__always) private static func forEachChannel<Context>(_ channels: Int, batch: Int, spatial: Int, pool: ThreadPool,
                                                                  context: Context, _ body: ParallelRangeTask) {
        let perChannel = max(1, batch * spatial)
        // Chunks start on block boundaries where that still leaves a chunk for every thread.
        let alignment = min(blockChannels(batch: batch, spatial: spatial), max(1, channels / max(1, pool.threadCount)))
        pool.parallelFor(channels, minimumChunk: max(1, 16_384 / perChannel), chunkAlignment: alignment, context: context, body)
    }

    /// dx = scale·(g − meanGradient − centeredFactor·(x − mean)), g = dy (masked where y ≤ 0 when `y` is given).
    @inline(__always) private static func planeInputGradient(_ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, _ y: UnsafePointer<Float>?,
                                                             _ dx: UnsafeMutablePointer<Float>, _ count: Int, mean: Float,
                                                             meanGradient: Float, centeredFactor: Float, scale: Float) {
        if let y {
            forEachVectorBlock(count) { i in
                let g = ActivationFunctions.reluGradient(VectorAccess.load16(y + i), VectorAccess.load16(dy + i))
                let centered = VectorAccess.load16(x + i) - mean
                let inner = (g - meanGradient).addingProduct(-centeredFactor, centered)
                VectorAccess.store(inner * scale, dx + i)
            } scalar: { i in
                let g: Float = y[i] > 0 ? dy[i] : 0
                dx[i] = ((g - meanGradient).addingProduct(-centeredFactor, x[i] - mean)) * scale
            }
            return
        }
        forEachVectorBlock(count) { i in
            let centered = VectorAccess.load16(x + i) - mean
            let inner = (VectorAccess.load16(dy + i) - meanGradient).addingProduct(-centeredFactor, centered)
            VectorAccess.store(inner * scale, dx + i)
        } scalar: { i in
            dx[i] = ((dy[i] - meanGradient).addingProduct(-centeredFactor, x[i] - mean)) * scale
        }
    }

    @inline(__always) private static func planeSum(_ x: UnsafePointer<Float>, _ count: Int) -> Float {
        var vector = SIMD16<Float>()
        var tail: Float = 0
        forEachVectorBlock(count) { i in vector += VectorAccess.load16(x + i) } scalar: { i in tail += x[i] }
        return vector.sum() + tail
    }

    @inline(__always) private static func planeSquaredDeviation(_ x: UnsafePointer<Float>, _ count: Int, _ mean: Float) -> Float {
        var vector = SIMD16<Float>()
        var tail: Float = 0
        forEachVectorBlock(count) { i in
            let d = VectorAccess.load16(x + i) - mean
            vector = vector.addingProduct(d, d)
        } scalar: { i in
            let d = x[i] - mean
            tail = tail.addingProduct(d, d)
        }
        return vector.sum() + tail
    }

    @inline(__always) private static func planeGradientSums(_ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, _ count: Int,
                                                            _ mean: Float) -> (gradient: Float, gradientCentered: Float) {
        var gradient = SIMD16<Float>(), centered = SIMD16<Float>()
        var gradientTail: Float = 0, centeredTail: Float = 0
        forEachVectorBlock(count) { i in
            let g = VectorAccess.load16(dy + i)
            gradient += g
            centered = centered.addingProduct(g, VectorAccess.load16(x + i) - mean)
        } scalar: { i in
            gradientTail += dy[i]
            centeredTail = centeredTail.addingProduct(dy[i], x[i] - mean)
        }
        return (gradient.sum() + gradientTail, centered.sum() + centeredTail)
    }

    /// planeGradientSums of dy masked by the ReLU's output y (dy where y > 0, else 0).
    @inline(__always) private static func planeMaskedGradientSums(_ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                                                                  _ y: UnsafePointer<Float>, _ count: Int,
                                                                  _ mean: Float) -> (gradient: Float, gradientCentered: Float) {
        var gradient = SIMD16<Float>(), centered = SIMD16<Float>()
        var gradientTail: Float = 0, centeredTail: Float = 0
        forEachVectorBlock(count) { i in
            let g = ActivationFunctions.reluGradient(VectorAccess.load16(y + i), VectorAccess.load16(dy + i))
            gradient += g
            centered = centered.addingProduct(g, VectorAccess.load16(x + i) - mean)
        } scalar: { i in
            let g: Float = y[i] > 0 ? dy[i] : 0
            gradientTail += g
            centeredTail = centeredTail.addingProduct(g, x[i] - mean)
        }
        return (gradient.sum() + gradientTail, centered.sum() + centeredTail)
    }

    /// y = bias + (x − mean)·scale (then max(y, 0) with `relu`: a fused ReLU costs no pass of its own). Centering first (rather than folding the mean into one shift,
    /// bias − mean·scale) keeps outputs that are small against the bias accurate: the fused
    /// multiply-add then rounds only once at the output's own magnitude.
    @inline(__always) private static func planeAffine(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ count: Int,
                                                      _ mean: Float, _ scale: Float, _ bias: Float, relu: Bool) {
        let scaleVector = SIMD16<Float>(repeating: scale), biasVector = SIMD16<Float>(repeating: bias)
        if relu {
            forEachVectorBlock(count) { i in
                let v = biasVector.addingProduct(VectorAccess.load16(x + i) - mean, scaleVector)
                VectorAccess.store(ActivationFunctions.relu(v), y + i)
            } scalar: { i in
                let v = bias.addingProduct(x[i] - mean, scale)
                y[i] = v < 0 ? 0 : v
            }
            return
        }
        forEachVectorBlock(count) { i in
            VectorAccess.store(biasVector.addingProduct(VectorAccess.load16(x + i) - mean, scaleVector), y + i)
        } scalar: { i in
            y[i] = bias.addingProduct(x[i] - mean, scale)
        }
    }
}
