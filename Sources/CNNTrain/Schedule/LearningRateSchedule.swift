import CNNSpec
import Foundation

/// The learning rate for each optimizer step, as PyTorch's schedulers give it when `scheduler.step()`
/// is called once per epoch, with an optional linear warm-up applied per iteration on top.
/// `one_cycle` is stepped per iteration (`OneCycle`); `reduce_on_plateau` per validation result
/// (`validationResult`), which makes it the one schedule with state (`plateau`, saved for resume).
public struct LearningRateSchedule: Sendable {
    public let config: ScheduleConfig
    public let baseLearningRate: Double
    public let iterationsPerEpoch: Int
    /// Cosine half-period in epochs (the config's `t_max`, else the run's length in epochs).
    public let cosinePeriod: Int
    /// Warm-up length in iterations (0 = none).
    public let warmupIterations: Int
    /// `one_cycle`'s rates and momenta over the run; nil for other schedules.
    public let oneCycle: OneCycle?
    /// `reduce_on_plateau`'s state; nil for other schedules.
    public var plateau: PlateauState?

    /// - Parameters:
    ///   - totalEpochs: the run's length in epochs (rounded up for iteration-length runs); the default
    ///     cosine `t_max`.
    ///   - totalIterations: the run's optimizer steps (`one_cycle`'s `total_steps`); nil means
    ///     `totalEpochs × iterationsPerEpoch`.
    public init(config: ScheduleConfig, baseLearningRate: Double, iterationsPerEpoch: Int, totalEpochs: Int,
                totalIterations: Int? = nil) throws(ScheduleSetupError) {
        self.config = config
        self.baseLearningRate = baseLearningRate
        self.iterationsPerEpoch = max(1, iterationsPerEpoch)
        cosinePeriod = max(1, config.tMax ?? totalEpochs)
        switch config.warmup {
        case nil: warmupIterations = 0
        case .epochs(let epochs)?: warmupIterations = epochs * self.iterationsPerEpoch
        case .iterations(let iterations)?: warmupIterations = iterations
        }
        oneCycle = config.name == .oneCycle
            ? try OneCycle(config: config, maxRate: config.maxLearningRate ?? baseLearningRate,
                           totalSteps: totalIterations ?? totalEpochs * self.iterationsPerEpoch)
            : nil
        plateau = config.name == .reduceOnPlateau ? PlateauState(config: config, learningRate: baseLearningRate) : nil
    }

    /// The validation metric `reduce_on_plateau` watches, or nil when the schedule watches none.
    public var monitoredMetric: MonitoredMetric? { plateau?.config.metric }

    /// Feeds a validation result to `reduce_on_plateau` (nothing for other schedules); true when it
    /// reduced the rate.
    public mutating func validationResult(loss: Double, accuracy: Double) -> Bool {
        guard var state = plateau else { return false }
        let reduced = state.step(metric: state.config.metric == .validationAccuracy ? accuracy : loss)
        plateau = state
        return reduced
    }

    /// One-cycle's momentum (SGD/RMSprop) or beta1 (Adam) for 0-based `globalIteration`; nil when the
    /// schedule does not cycle momentum.
    public func momentum(globalIteration: Int) -> Double? {
        oneCycle?.momentum(step: globalIteration)
    }

    /// The rate during 0-based `epoch`, before warm-up (PyTorch's `get_last_lr()` in that epoch).
    public func epochLearningRate(epoch: Int) -> Double {
        let base = baseLearningRate
        switch config.name {
        case .constant:
            return base
        case .step:
            return base * pow(config.gamma, Double(epoch / config.stepSize))
        case .multistep:
            return base * pow(config.gamma, Double(config.milestones.filter { $0 <= epoch }.count))
        case .exponential:
            return base * pow(config.gamma, Double(epoch))
        case .cosine:
            let phase = Double.pi * Double(epoch) / Double(cosinePeriod)
            return config.etaMin + (base - config.etaMin) * (1 + cos(phase)) / 2
        case .reduceOnPlateau:
            return plateau?.learningRate ?? base
        case .oneCycle:
            return oneCycle?.learningRate(step: epoch * iterationsPerEpoch) ?? base
        }
    }

    /// The rate for the optimizer step at 0-based `globalIteration` (counted over the whole run):
    /// the epoch's rate times `(globalIteration + 1) / warmupIterations` during warm-up.
    public func learningRate(globalIteration: Int) -> Double {
        let rate = oneCycle?.learningRate(step: globalIteration) ?? epochLearningRate(epoch: globalIteration / iterationsPerEpoch)
        guard globalIteration < warmupIterations else { return rate }
        return rate * Double(globalIteration + 1) / Double(warmupIterations)
    }

    /// The rate for step `iteration` (0-based) of 0-based `epoch`.
    public func learningRate(epoch: Int, iteration: Int) -> Double {
        learningRate(globalIteration: epoch * iterationsPerEpoch + iteration)
    }
}
