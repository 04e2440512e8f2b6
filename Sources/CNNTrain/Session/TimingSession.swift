import CNNSpec
import Foundation

/// What `cnnspec time` measures: an experiment's training plan at `train.batch_size` (its backends, threads,
/// fusion and frozen layers) and the config's optimizer, stepped on random data by `StepTimer`.
public final class TimingSession {
    /// Bound of the timed and warm-up iterations: timing needs tens of steps, a million is already hours.
    public static let largestIterations = 1_000_000

    public let experiment: Experiment
    public let plan: ExecutionPlan
    /// The config's optimizer step, clipping and frozen layers included, as a run takes it.
    public let update: ParameterUpdate

    public init(experiment: Experiment) throws {
        self.experiment = experiment
        plan = try PlanSettings.training(experiment.config.train, alsoEvaluates: false).makePlan(for: experiment.graph)
        update = try ParameterUpdate(train: experiment.config.train, plan: plan)
    }

    /// `backend LAYER: KIND …`, one line per convolution layer.
    public var backendLines: [String] {
        [plan.kernelsLine] + plan.backendSelections.map { "backend " + $0.summary }
    }

    /// `CONFIG: model MODEL, batch N, optimizer NAME`.
    public var heading: String {
        let train = experiment.config.train
        return "\(experiment.config.name): model \(experiment.graph.name), batch \(train.batchSize), optimizer \(train.optimizer.name.rawValue)"
    }

    /// `warmup` steps, then `iterations` timed steps (see `StepTimer.measure`); `allocationCount` reads the
    /// process's allocation counter when the caller links one.
    public func measure(warmup: Int, iterations: Int, allocationCount: (() -> UInt64)? = nil) -> TimingReport {
        StepTimer.measure(plan: plan, update: update, batch: experiment.config.train.batchSize, warmup: warmup,
                          iterations: iterations, allocationCount: allocationCount)
    }
}
