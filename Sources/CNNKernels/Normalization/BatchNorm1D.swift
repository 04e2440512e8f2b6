/// PyTorch `nn.BatchNorm1d` on [N, features] (or [N, features, length]): per-feature statistics
/// over the batch (and length). The memory layout is BatchNorm2D's with channels = features and
/// spatial = length (1 for [N, features]), so these are that kernel under BatchNorm1d's names —
/// same semantics: biased variance to normalise, unbiased for the running variance, running =
/// (1 − momentum)·running + momentum·batch statistic.
public enum BatchNorm1D {
    public static func forwardTraining(batch: Int, features: Int, length: Int = 1, eps: Float, momentum: Float,
                                       input: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>,
                                       runningMean: UnsafeMutablePointer<Float>, runningVar: UnsafeMutablePointer<Float>,
                                       saveMean: UnsafeMutablePointer<Float>, saveInvStd: UnsafeMutablePointer<Float>,
                                       output: UnsafeMutablePointer<Float>, pool: ThreadPool) {
        BatchNorm2D.forwardTraining(batch: batch, channels: features, spatial: length, eps: eps, momentum: momentum,
                                    input: input, weight: weight, bias: bias, runningMean: runningMean, runningVar: runningVar,
                                    saveMean: saveMean, saveInvStd: saveInvStd, output: output, pool: pool)
    }

    /// Eval mode: y = (x − runningMean)/√(runningVar + eps)·weight + bias.
    public static func forwardInference(batch: Int, features: Int, length: Int = 1, eps: Float, input: UnsafePointer<Float>,
                                        weight: UnsafePointer<Float>, bias: UnsafePointer<Float>, runningMean: UnsafePointer<Float>,
                                        runningVar: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, pool: ThreadPool) {
        BatchNorm2D.forwardInference(batch: batch, channels: features, spatial: length, eps: eps, input: input, weight: weight,
                                     bias: bias, runningMean: runningMean, runningVar: runningVar, output: output, pool: pool)
    }

    /// Training-mode backward (gradWeight, gradBias overwritten), from the saved batch statistics.
    public static func backward(batch: Int, features: Int, length: Int = 1, input: UnsafePointer<Float>,
                                gradOutput: UnsafePointer<Float>, weight: UnsafePointer<Float>, saveMean: UnsafePointer<Float>,
                                saveInvStd: UnsafePointer<Float>, gradInput: UnsafeMutablePointer<Float>,
                                gradWeight: UnsafeMutablePointer<Float>, gradBias: UnsafeMutablePointer<Float>, pool: ThreadPool) {
        BatchNorm2D.backward(batch: batch, channels: features, spatial: length, input: input, gradOutput: gradOutput,
                             weight: weight, saveMean: saveMean, saveInvStd: saveInvStd, gradInput: gradInput,
                             gradWeight: gradWeight, gradBias: gradBias, pool: pool)
    }
}
