/// Batch normalisation over NCHW tensors, per channel (PyTorch `nn.BatchNorm2d`), threaded over channels.
public enum BatchNorm2D {
    /// Training: batch statistics (biased variance for normalising), running stats updated with unbiased
    /// variance and momentum (PyTorch: running = (1−m)·running + m·stat). saveMean/saveInvStd (per channel)
    /// are for backward.
    public static func forwardTraining(batch: Int, channels: Int, spatial: Int, eps: Float, momentum: Float,
                                       input: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>,
                                       runningMean: UnsafeMutablePointer<Float>, runningVar: UnsafeMutablePointer<Float>,
                                       saveMean: UnsafeMutablePointer<Float>, saveInvStd: UnsafeMutablePointer<Float>,
                                       output: UnsafeMutablePointer<Float>, pool: ThreadPool) {
        let count = batch * spatial
        guard count > 0 else { return }
        let pass = TrainingForward(batch: batch, channels: channels, spatial: spatial, eps: eps, momentum: momentum,
                                   input: input, weight: weight, bias: bias, runningMean: runningMean,
                                   runningVar: runningVar, saveMean: saveMean, saveInvStd: saveInvStd, output: output)
        forEachChannel(channels, batch: batch, spatial: spatial, pool: pool, context: pass) { raw, first, end in
            let pass = raw.load(as: TrainingForward.self)
            for channel in first..<end { pass.normalise(channel: channel) }
        }
    }

    /// Inference: y = (x − runningMean)/√(runningVar + eps)·weight + bias.
    public static func forwardInference(batch: Int, channels: Int, spatial: Int, eps: Float, input: UnsafePointer<Float>,
                                        weight: UnsafePointer<Float>, bias: UnsafePointer<Float>, runningMean: UnsafePointer<Float>,
                                        runningVar: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, pool: ThreadPool) {
        let pass = InferenceForward(batch: batch, channels: channels, spatial: spatial, eps: eps, input: input,
                                    weight: weight, bias: bias, runningMean: runningMean, runningVar: runningVar,
                                    output: output)
        forEachChannel(channels, batch: batch, spatial: spatial, pool: pool, context: pass) { raw, first, end in
            let pass = raw.load(as: InferenceForward.self)
            for channel in first..<end { pass.normalise(channel: channel) }
        }
    }

    /// Training-mode backward: gradBias = Σdy, gradWeight = Σdy·x̂,
    /// gradInput = weight·invStd·(dy − Σdy/N − x̂·Σdy·x̂/N).
    public static func backward(batch: Int, channels: Int, spatial: Int, input: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>,
                                weight: UnsafePointer<Float>, saveMean: UnsafePointer<Float>, saveInvStd: UnsafePointer<Float>,
                                gradInput: UnsafeMutablePointer<Float>, gradWeight: UnsafeMutablePointer<Float>,
                                gradBias: UnsafeMutablePointer<Float>, pool: ThreadPool) {
        let count = batch * spatial
        guard count > 0 else { return }
        let pass = TrainingBackward(batch: batch, channels: channels, spatial: spatial, input: input,
                                    gradOutput: gradOutput, weight: weight, saveMean: saveMean, saveInvStd: saveInvStd,
                                    gradInput: gradInput, gradWeight: gradWeight, gradBias: gradBias)
        forEachChannel(channels, batch: batch, spatial: spatial, pool: pool, context: pass) { raw, first, end in
            let pass = raw.load(as: TrainingBackward.self)
            for channel in first..<end { pass.backward(channel: channel) }
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

        func normalise(channel: Int) {
            let count = batch * spatial
            let planes = ChannelPlanes(channel: channel, channels: channels, spatial: spatial)
            var sum: Double = 0
            for image in 0..<batch { sum += Double(BatchNorm2D.planeSum(input + planes.offset(image), spatial)) }
            let mean = Float(sum / Double(count))
            var squares: Double = 0
            for image in 0..<batch { squares += Double(BatchNorm2D.planeSquaredDeviation(input + planes.offset(image), spatial, mean)) }
            let variance = squares / Double(count)
            let invStd = Float(1 / (variance + Double(eps)).squareRoot())
            saveMean[channel] = mean
            saveInvStd[channel] = invStd
            let unbiased = count > 1 ? variance * Double(count) / Double(count - 1) : variance
            runningMean[channel] = (1 - momentum) * runningMean[channel] + momentum * mean
            runningVar[channel] = (1 - momentum) * runningVar[channel] + momentum * Float(unbiased)
            let scale = weight[channel] * invStd
            for image in 0..<batch {
                BatchNorm2D.planeAffine(input + planes.offset(image), output + planes.offset(image), spatial, mean, scale, bias[channel])
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

        func normalise(channel: Int) {
            let planes = ChannelPlanes(channel: channel, channels: channels, spatial: spatial)
            let scale = weight[channel] / (runningVar[channel] + eps).squareRoot()
            for image in 0..<batch {
                BatchNorm2D.planeAffine(input + planes.offset(image), output + planes.offset(image), spatial, runningMean[channel],
                                        scale, bias[channel])
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

        func backward(channel: Int) {
            let count = batch * spatial
            let planes = ChannelPlanes(channel: channel, channels: channels, spatial: spatial)
            let mean = saveMean[channel], invStd = saveInvStd[channel]
            var sumGradient: Double = 0
            var sumGradientCentered: Double = 0
            for image in 0..<batch {
                let sums = BatchNorm2D.planeGradientSums(input + planes.offset(image), gradOutput + planes.offset(image), spatial, mean)
                sumGradient += Double(sums.gradient)
                sumGradientCentered += Double(sums.gradientCentered)
            }
            let gradientXHat = sumGradientCentered * Double(invStd)
            gradBias[channel] = Float(sumGradient)
            gradWeight[channel] = Float(gradientXHat)
            let scale = weight[channel] * invStd
            let meanGradient = Float(sumGradient / Double(count))
            let centeredFactor = Float(gradientXHat / Double(count)) * invStd
            for image in 0..<batch {
                let x = input + planes.offset(image), dy = gradOutput + planes.offset(image), dx = gradInput + planes.offset(image)
                forEachVectorBlock(spatial) { i in
                    let centered = VectorAccess.load16(x + i) - mean
                    let inner = (VectorAccess.load16(dy + i) - meanGradient).addingProduct(-centeredFactor, centered)
                    VectorAccess.store(inner * scale, dx + i)
                } scalar: { i in
                    dx[i] = ((dy[i] - meanGradient).addingProduct(-centeredFactor, x[i] - mean)) * scale
                }
            }
        }
    }

    private struct ChannelPlanes {
        let channel: Int, channels: Int, spatial: Int
        @inline(__always) func offset(_ image: Int) -> Int { (image * channels + channel) * spatial }
    }

    /// Runs `body(context, first, end)` over channel ranges, at least ~16K elements of work per chunk.
    @inline(__always) private static func forEachChannel<Context>(_ channels: Int, batch: Int, spatial: Int, pool: ThreadPool,
                                                                  context: Context, _ body: ParallelRangeTask) {
        let perChannel = max(1, batch * spatial)
        pool.parallelFor(channels, minimumChunk: max(1, 16_384 / perChannel), context: context, body)
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

    /// y = bias + (x − mean)·scale. Centering first (rather than folding the mean into one shift,
    /// bias − mean·scale) keeps outputs that are small against the bias accurate: the fused
    /// multiply-add then rounds only once at the output's own magnitude.
    @inline(__always) private static func planeAffine(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ count: Int,
                                                      _ mean: Float, _ scale: Float, _ bias: Float) {
        let scaleVector = SIMD16<Float>(repeating: scale), biasVector = SIMD16<Float>(repeating: bias)
        forEachVectorBlock(count) { i in
            VectorAccess.store(biasVector.addingProduct(VectorAccess.load16(x + i) - mean, scaleVector), y + i)
        } scalar: { i in
            y[i] = bias.addingProduct(x[i] - mean, scale)
        }
    }
}
