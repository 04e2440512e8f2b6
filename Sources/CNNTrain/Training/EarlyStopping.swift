import CNNSpec

/// `train.early_stopping` (Keras `EarlyStopping` / Lightning's callback): after every validation pass
/// the monitored metric improves when it beats the best so far by more than `min_delta`; after
/// `patience` passes in a row without improvement training stops. Part of the resume state, so a
/// resumed run stops where an uninterrupted one would (and a run that stopped stays stopped).
public struct EarlyStopping: Sendable, Equatable {
    public let config: EarlyStoppingConfig
    /// Best value of the metric so far (starts at the worst possible value).
    public private(set) var best: Double
    /// Epoch (1-based) and iteration of the best value.
    public private(set) var bestEpoch: Int?
    public private(set) var bestIteration: Int?
    /// Validation passes since the last improvement.
    public private(set) var waited = 0
    /// Set when the patience ran out: where training stopped.
    public private(set) var stoppedAt: (epoch: Int, iteration: Int)?

    public init(config: EarlyStoppingConfig) {
        self.config = config
        best = config.metric.higherIsBetter ? -.infinity : .infinity
    }

    public static func == (a: EarlyStopping, b: EarlyStopping) -> Bool {
        a.config == b.config && a.best == b.best && a.bestEpoch == b.bestEpoch && a.bestIteration == b.bestIteration
            && a.waited == b.waited && a.stoppedAt?.epoch == b.stoppedAt?.epoch && a.stoppedAt?.iteration == b.stoppedAt?.iteration
    }

    public var hasStopped: Bool { stoppedAt != nil }

    /// Whether `value` improves on the best by more than `min_delta`.
    public func improves(_ value: Double) -> Bool {
        config.metric.higherIsBetter ? value - config.minDelta > best : value + config.minDelta < best
    }

    /// Feeds one validation result (1-based `epoch`, `iteration` = optimizer steps so far). Returns true
    /// when training should stop now.
    public mutating func validationResult(loss: Double, accuracy: Double, epoch: Int, iteration: Int) -> Bool {
        guard !hasStopped else { return true }
        let value = config.metric == .validationAccuracy ? accuracy : loss
        if improves(value) {
            best = value
            bestEpoch = epoch
            bestIteration = iteration
            waited = 0
            return false
        }
        waited += 1
        guard waited >= config.patience else { return false }
        stoppedAt = (epoch, iteration)
        return true
    }

    /// The summary's `stop_reason` once stopped.
    public var stopReason: String? {
        guard let stoppedAt else { return nil }
        var text = "early stopping at epoch \(stoppedAt.epoch), iteration \(stoppedAt.iteration): \(config.metric.rawValue) "
            + "did not improve by more than \(config.minDelta) for \(config.patience) validation\(config.patience == 1 ? "" : "s")"
        if let bestEpoch, let bestIteration {
            text += "; best \(config.metric.rawValue) \(best) at epoch \(bestEpoch), iteration \(bestIteration)"
        }
        return text
    }

    /// Resume metadata keys and values.
    var metadata: [String: String] {
        var values = ["early_stopping.best": "\(best)", "early_stopping.waited": "\(waited)"]
        if let bestEpoch, let bestIteration {
            values["early_stopping.best_epoch"] = "\(bestEpoch)"
            values["early_stopping.best_iteration"] = "\(bestIteration)"
        }
        if let stoppedAt { values["early_stopping.stopped"] = "\(stoppedAt.epoch),\(stoppedAt.iteration)" }
        return values
    }

    /// Restores what `metadata` wrote; false (state unchanged) when a field is missing or malformed.
    mutating func restore(_ metadata: [String: String]) -> Bool {
        guard let best = metadata["early_stopping.best"].flatMap(Double.init), !best.isNaN,
              let waited = metadata["early_stopping.waited"].flatMap(Int.init), waited >= 0 else { return false }
        var stopped: (Int, Int)?
        if let text = metadata["early_stopping.stopped"] {
            let parts = text.split(separator: ",").compactMap { Int($0) }
            guard parts.count == 2 else { return false }
            stopped = (parts[0], parts[1])
        }
        self.best = best
        self.waited = waited
        bestEpoch = metadata["early_stopping.best_epoch"].flatMap(Int.init)
        bestIteration = metadata["early_stopping.best_iteration"].flatMap(Int.init)
        stoppedAt = stopped
        return true
    }
}

extension TrainConfig {
    /// `reduce_on_plateau` and `early_stopping` watch validation results: a run that never validates
    /// (no validation images, or no validation cadence) is refused when training starts.
    public func checkValidationNeeds(validationImages: Int) throws(ScheduleSetupError) {
        var watchers: [String] = []
        if schedule.name == .reduceOnPlateau { watchers.append("train.schedule reduce_on_plateau") }
        if earlyStopping != nil { watchers.append("train.early_stopping") }
        guard let first = watchers.first else { return }
        let subject = watchers.count == 1 ? first : watchers.joined(separator: " and ")
        if validationImages == 0 {
            throw ScheduleSetupError("\(subject) \(watchers.count == 1 ? "watches" : "watch") validation results, "
                + "but this run has no validation images", hint: "set data.validation_split above 0, e.g. 0.1")
        }
        if !evalEveryEpoch && evalEveryIterations == nil {
            throw ScheduleSetupError("\(subject) \(watchers.count == 1 ? "watches" : "watch") validation results, "
                + "but this run never validates", hint: "set train.eval_every_epoch: true or train.eval_every_iterations")
        }
    }
}
