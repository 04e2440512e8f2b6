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
    /// Accuracy of that validation (the best checkpoint's criterion when early stopping watches accuracy).
    public var bestValidationAccuracy: Double = -.infinity
    /// Wall-clock seconds spent training before this process started (for resumed runs).
    public var elapsedSeconds: Double = 0
    /// Running sums of the epoch in progress (loss × images, correct predictions, images), so that an
    /// epoch resumed from a mid-epoch save reports the same train loss and accuracy as an uninterrupted one.
    public var epochLossSum: Double = 0
    public var epochCorrect = 0
    public var epochSeen = 0
    /// Running sums since the last training row of metrics.csv (`train.log_every`), likewise, so that a
    /// resumed run writes the same rows as an uninterrupted one.
    public var windowLossSum: Double = 0
    public var windowCorrect = 0
    public var windowSeen = 0
    /// The loss of the first training batch: the reference of the divergence rule (see `Trainer.explosionFactor`).
    public var firstLoss: Double?
    /// Rows of metrics.csv when the state was saved; rows after it are dropped on resume (they are
    /// written again by the resumed run).
    public var metricsRows = 0

    public init() {}

    /// As safetensors metadata strings.
    var metadata: [String: String] {
        var values = ["epoch": "\(epoch)", "batch": "\(batch)", "iteration": "\(iteration)",
                      "best_validation_loss": "\(bestValidationLoss)", "elapsed_seconds": "\(elapsedSeconds)"]
        if let bestEpoch { values["best_epoch"] = "\(bestEpoch)" }
        values["best_validation_accuracy"] = "\(bestValidationAccuracy)"
        values["epoch_loss_sum"] = "\(epochLossSum)"
        values["epoch_correct"] = "\(epochCorrect)"
        values["epoch_seen"] = "\(epochSeen)"
        values["window_loss_sum"] = "\(windowLossSum)"
        values["window_correct"] = "\(windowCorrect)"
        values["window_seen"] = "\(windowSeen)"
        if let firstLoss { values["first_loss"] = "\(firstLoss)" }
        values["metrics_rows"] = "\(metricsRows)"
        return values
    }

    /// Reads the metadata written by `metadata`; nil when a field is missing or malformed.
    init?(metadata: [String: String]) {
        guard let epoch = metadata["epoch"].flatMap(Int.init), let batch = metadata["batch"].flatMap(Int.init),
              let iteration = metadata["iteration"].flatMap(Int.init),
              let best = metadata["best_validation_loss"].flatMap(Double.init) else { return nil }
        self.epoch = epoch; self.batch = batch; self.iteration = iteration; self.bestValidationLoss = best
        bestEpoch = metadata["best_epoch"].flatMap(Int.init)
        bestValidationAccuracy = metadata["best_validation_accuracy"].flatMap(Double.init) ?? -.infinity
        elapsedSeconds = metadata["elapsed_seconds"].flatMap(Double.init) ?? 0
        // Files saved before these fields existed resume at an epoch boundary, where they are zero.
        epochLossSum = metadata["epoch_loss_sum"].flatMap(Double.init) ?? 0
        epochCorrect = metadata["epoch_correct"].flatMap(Int.init) ?? 0
        epochSeen = metadata["epoch_seen"].flatMap(Int.init) ?? 0
        // Files saved before training rows were logged per window: the window starts afresh.
        windowLossSum = metadata["window_loss_sum"].flatMap(Double.init) ?? 0
        windowCorrect = metadata["window_correct"].flatMap(Int.init) ?? 0
        windowSeen = metadata["window_seen"].flatMap(Int.init) ?? 0
        firstLoss = metadata["first_loss"].flatMap(Double.init)
        metricsRows = metadata["metrics_rows"].flatMap(Int.init) ?? -1
        guard epoch >= 0, batch >= 0, iteration >= 0, epochSeen >= 0, epochCorrect >= 0, epochCorrect <= epochSeen,
              windowSeen >= 0, windowCorrect >= 0, windowCorrect <= windowSeen, windowLossSum.isFinite,
              epochLossSum.isFinite, best.isNaN == false else { return nil }
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
    /// Why training stopped early (divergence, early stopping), when it did.
    public var stopReason: String?
    /// Which weights the test figures are of: the best validation epoch's (as the tutorials reload
    /// their best checkpoint before testing) when a best checkpoint exists, else the last.
    public var testWeights: String
    /// Mean training throughput over the run (images per second, data pipeline included).
    public var imagesPerSecond: Double
    /// Fraction of training wall time spent assembling batches.
    public var dataShare: Double
    public var checkpoints: [String]
}
