import CNNKernels
import CNNSpec
import Foundation

/// Which images `cnnspec eval` scores.
public enum EvaluationSplit: String, Sendable, CaseIterable {
    case test, validation

    /// `test or validation`, for messages.
    public static var listed: String { LayerKey.ValueType.listed(allCases.map(\.rawValue)) }
}

/// `cnnspec eval`'s work: an experiment's data and evaluation plan with a checkpoint's weights, scored
/// on one split.
public final class CheckpointEvaluation {
    /// Loss and accuracy over a split.
    public struct Result: Sendable {
        public var loss: Double
        public var accuracy: Double
        public var images: Int
    }

    public let experiment: Experiment
    public let data: TrainingData
    public let plan: ExecutionPlan
    public let checkpoint: URL
    /// The checkpoint's metadata (config hash, seed, …).
    public let metadata: [String: String]

    /// Loads the data (checked against the model), compiles the evaluation plan and loads the checkpoint
    /// (mismatched tensors are errors naming them).
    public init(experiment: Experiment, checkpoint: String, key: String? = nil) throws {
        self.experiment = experiment
        data = try experiment.loadData()
        plan = try experiment.makeEvaluationPlan()
        self.checkpoint = URL(fileURLWithPath: checkpoint)
        metadata = try CheckpointIO.load(into: plan.parameters, from: self.checkpoint, key: key).metadata
        plan.parametersDidChange()
    }

    /// The config hash the checkpoint was trained with and this config's (with its overrides, resolved as
    /// a run writes it, see `ConfigIdentity`) when they differ: the weights may come from another recipe or
    /// data. Nil when they agree or the checkpoint does not say.
    public var configMismatch: (trainedHash: String, configHash: String)? {
        guard let hash = metadata["config_hash"],
              !ConfigIdentity.matches(storedHash: hash, config: experiment.config, data: data) else { return nil }
        return (hash, ConfigIdentity.hash(experiment.config, data: data))
    }

    /// Mean loss and accuracy on `split`; the validation split needs `data.validation_split` > 0.
    public func evaluate(_ split: EvaluationSplit) throws -> Result {
        let train = experiment.config.train
        let loader: BatchLoader
        switch split {
        case .validation:
            guard let validation = data.validationLoader(batchSize: train.evalBatchSize, seed: train.seed, threadPool: plan.pool) else {
                throw UserError("data.validation_split is 0, so there is no validation set", file: experiment.config.configPath)
            }
            loader = validation
        case .test:
            loader = data.testLoader(batchSize: train.evalBatchSize, seed: train.seed, threadPool: plan.pool)
        }
        let labels = AlignedBuffer<Int32>(count: plan.batchCapacity)
        let result = Trainer.evaluate(plan: plan, loader: loader, labels: labels)
        return Result(loss: result.loss, accuracy: result.accuracy, images: loader.sampleCount)
    }
}
