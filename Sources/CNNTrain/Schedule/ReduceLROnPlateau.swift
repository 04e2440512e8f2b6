import CNNSpec

/// PyTorch's `ReduceLROnPlateau`, step for step: fed one validation result at a time, it multiplies the
/// rate by `factor` (not below `min_lr`) after more than `patience` results in a row without improvement,
/// then ignores `cooldown` results. Its state is part of the resume state, so resumed runs reduce at
/// the same validations as uninterrupted ones.
public struct PlateauState: Sendable, Equatable {
    public let config: ScheduleConfig
    /// The current rate (PyTorch's `group['lr']`).
    public private(set) var learningRate: Double
    /// Best metric so far (PyTorch's `best`; starts at the worst value of the mode).
    public private(set) var best: Double
    public private(set) var badValidations = 0
    public private(set) var cooldownCounter = 0
    /// Validation results seen (PyTorch's `last_epoch`).
    public private(set) var steps = 0

    /// PyTorch's `eps`: a reduction smaller than this is not applied.
    public static let minimumChange = 1e-8

    public init(config: ScheduleConfig, learningRate: Double) {
        self.config = config
        self.learningRate = learningRate
        best = config.metric.higherIsBetter ? -.infinity : .infinity
    }

    /// PyTorch's `_is_better` for the metric's mode (min for loss, max for accuracy) and `threshold_mode`.
    func isBetter(_ value: Double, than best: Double) -> Bool {
        switch (config.metric.higherIsBetter, config.thresholdMode) {
        case (false, .relative): return value < best * (1 - config.threshold)
        case (false, .absolute): return value < best - config.threshold
        case (true, .relative): return value > best * (config.threshold + 1)
        case (true, .absolute): return value > best + config.threshold
        }
    }

    /// `scheduler.step(metric)`. Returns true when the rate was reduced.
    @discardableResult
    public mutating func step(metric value: Double) -> Bool {
        steps += 1
        if isBetter(value, than: best) {
            best = value
            badValidations = 0
        } else {
            badValidations += 1
        }
        if cooldownCounter > 0 {
            cooldownCounter -= 1
            badValidations = 0
        }
        guard badValidations > config.patience else { return false }
        cooldownCounter = config.cooldown
        badValidations = 0
        let reduced = max(learningRate * config.factor, config.minLearningRate)
        guard learningRate - reduced > Self.minimumChange else { return false }
        learningRate = reduced
        return true
    }

    /// Resume metadata keys and values.
    var metadata: [String: String] {
        ["plateau.lr": "\(learningRate)", "plateau.best": "\(best)", "plateau.bad": "\(badValidations)",
         "plateau.cooldown": "\(cooldownCounter)", "plateau.steps": "\(steps)"]
    }

    /// Restores what `metadata` wrote; false (state unchanged) when a field is missing or malformed.
    mutating func restore(_ metadata: [String: String]) -> Bool {
        guard let rate = metadata["plateau.lr"].flatMap(Double.init), rate.isFinite, rate >= 0,
              let best = metadata["plateau.best"].flatMap(Double.init), !best.isNaN,
              let bad = metadata["plateau.bad"].flatMap(Int.init), bad >= 0,
              let cooldown = metadata["plateau.cooldown"].flatMap(Int.init), cooldown >= 0,
              let steps = metadata["plateau.steps"].flatMap(Int.init), steps >= 0 else { return false }
        learningRate = rate; self.best = best; badValidations = bad; cooldownCounter = cooldown; self.steps = steps
        return true
    }
}
