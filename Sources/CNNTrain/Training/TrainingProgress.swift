/// Where a run is, saved in `resume.safetensors` so `cnnspec run --resume` continues exactly there.
public struct TrainingProgress: Sendable, Equatable {
    /// 0-based epoch in progress (or next to start).
    public var epoch = 0
    /// Next batch index within `epoch`.
    public var batch = 0
    /// Optimizer steps taken so far.
    public var iteration = 0
    /// Lowest validation loss seen, and the 1-based epoch it was reached in.
    public var bestValidationLoss: Double = .infinity
    public var bestEpoch: Int?
    /// Wall-clock seconds spent training before this process started (for resumed runs).
    public var elapsedSeconds: Double = 0

    public init() {}

    /// As safetensors metadata strings.
    var metadata: [String: String] {
        var values = ["epoch": "\(epoch)", "batch": "\(batch)", "iteration": "\(iteration)",
                      "best_validation_loss": "\(bestValidationLoss)", "elapsed_seconds": "\(elapsedSeconds)"]
        if let bestEpoch { values["best_epoch"] = "\(bestEpoch)" }
        return values
    }

    /// Reads the metadata written by `metadata`; nil when a field is missing or malformed.
    init?(metadata: [String: String]) {
        guard let epoch = metadata["epoch"].flatMap(Int.init), let batch = metadata["batch"].flatMap(Int.init),
              let iteration = metadata["iteration"].flatMap(Int.init),
              let best = metadata["best_validation_loss"].flatMap(Double.init) else { return nil }
        self.epoch = epoch; self.batch = batch; self.iteration = iteration; self.bestValidationLoss = best
        bestEpoch = metadata["best_epoch"].flatMap(Int.init)
        elapsedSeconds = metadata["elapsed_seconds"].flatMap(Double.init) ?? 0
    }
}

/// What a finished (or interrupted) run reports.
public struct TrainingSummary: Sendable {
    public var testLoss: Double?
    public var testAccuracy: Double?
    public var bestEpoch: Int?
    public var bestValidationLoss: Double?
    public var epochsCompleted: Int
    public var iterations: Int
    public var interrupted: Bool
    /// Which weights the test figures are of: the best validation epoch's (as the tutorials reload
    /// their best checkpoint before testing) when a best checkpoint exists, else the last.
    public var testWeights: String
    /// Mean training throughput over the run (images per second, data pipeline included).
    public var imagesPerSecond: Double
    /// Fraction of training wall time spent assembling batches.
    public var dataShare: Double
    public var checkpoints: [String]
}
