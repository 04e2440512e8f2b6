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
        /// Per-class precision, recall, F1 and the confusion matrix.
        public var metrics: ClassificationMetrics
    }

    /// `eval`'s arguments: a run folder is its `config.yaml` and (unless `checkpoint` is given) its
    /// best, else last checkpoint, as `predict` and `export` take it; a config needs `checkpoint`.
    public static func inputs(path: String, checkpoint: String?) throws -> (config: String, checkpoint: String) {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else {
            throw UserError("no such file or folder", file: path, hint: "give a run folder or a run config")
        }
        guard isFolder.boolValue else {
            guard let checkpoint else {
                throw UserError("no checkpoint", file: path, hint: "give --checkpoint FILE with a run config, or the run folder itself")
            }
            return (path, checkpoint)
        }
        let folder = URL(fileURLWithPath: path)
        let config = folder.appendingPathComponent(RunFolder.configFile).path
        guard FileManager.default.fileExists(atPath: config) else {
            throw UserError("not a run folder (no \(RunFolder.configFile))", file: path,
                            hint: "give the run folder `cnnspec run` printed, or a run config with --checkpoint FILE")
        }
        if let checkpoint { return (config, checkpoint) }
        guard let found = ModelSource.runFolderCheckpoints.map({ folder.appendingPathComponent($0).path })
            .first(where: { FileManager.default.fileExists(atPath: $0) }) else {
            throw UserError("the run folder has no \(ModelSource.runFolderCheckpoints.joined(separator: " or "))", file: path,
                            hint: "pass --checkpoint FILE")
        }
        return (config, found)
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
        let predictions = TestPredictions.compute(plan: plan, loader: loader, classNames: data.classNames)
        return Result(loss: result.loss, accuracy: result.accuracy, images: loader.sampleCount,
                      metrics: ClassificationMetrics(predictions))
    }
}
