import CNNKernels
import CNNSpec

/// Everything a run needs from its `data` config: the loaded files, the seeded split, the compiled
/// train and eval pipelines, and loaders over them.
public struct TrainingData: Sendable {
    /// The whole training file (split into `split.trainIndices` / `split.validationIndices`).
    public let trainFile: Dataset
    public let test: Dataset
    public let split: DatasetSplit
    public let trainPipeline: TransformPipeline
    public let evalPipeline: TransformPipeline
    /// Statistics used by `normalize: auto`, when some list uses it.
    public let statistics: ChannelStatistics?

    public var classNames: [String] { trainFile.classNames }
    /// Shape of one transformed sample, [channels, height, width]: what the model's input must be.
    public var sampleShape: [Int] { [trainPipeline.outputChannels, trainPipeline.outputHeight, trainPipeline.outputWidth] }

    /// Loads the dataset named by `config`, splits it with `config.splitSeed ?? seed`, compiles both
    /// transform lists. Errors say which file is missing or malformed and how to fetch the data.
    public static func load(_ config: DataConfig, seed: Int) throws(DataError) -> TrainingData {
        let (train, test) = try DatasetLocator.load(config.dataset, root: config.root)
        return try TrainingData(trainFile: train, test: test, config: config, seed: seed)
    }

    /// Builds from datasets already in memory (tests, custom data).
    public init(trainFile: Dataset, test: Dataset, config: DataConfig, seed: Int) throws(DataError) {
        guard trainFile.channels == test.channels, trainFile.height == test.height, trainFile.width == test.width else {
            throw DataError("training images are \(trainFile.channels)×\(trainFile.height)×\(trainFile.width) but test images are \(test.channels)×\(test.height)×\(test.width)")
        }
        let needsStatistics = (config.trainTransforms + config.evalTransforms).contains(.normalize(.auto))
        let statistics = needsStatistics ? ChannelStatistics(of: trainFile) : nil
        let trainPipeline = try TransformPipeline(steps: config.trainTransforms, channels: trainFile.channels,
                                                  height: trainFile.height, width: trainFile.width, statistics: statistics)
        let evalPipeline = try TransformPipeline(steps: config.evalTransforms, channels: trainFile.channels,
                                                 height: trainFile.height, width: trainFile.width, statistics: statistics)
        let trainShape = [trainPipeline.outputChannels, trainPipeline.outputHeight, trainPipeline.outputWidth]
        let evalShape = [evalPipeline.outputChannels, evalPipeline.outputHeight, evalPipeline.outputWidth]
        guard trainShape == evalShape else {
            throw DataError("data.train_transforms produce \(trainShape) samples but data.eval_transforms produce \(evalShape)",
                            hint: "give both lists the same resize/crop so the model sees one input size")
        }
        self.trainFile = trainFile; self.test = test; self.statistics = statistics
        self.trainPipeline = trainPipeline; self.evalPipeline = evalPipeline
        split = DatasetSplit(count: trainFile.count, validationFraction: config.validationSplit,
                             seed: UInt64(config.splitSeed ?? seed))
    }

    /// `config` with `normalize: auto` replaced by the values used, for the run folder's resolved config.
    public func resolving(_ config: DataConfig) -> DataConfig {
        var resolved = config
        resolved.trainTransforms = trainPipeline.resolvedSteps
        resolved.evalTransforms = evalPipeline.resolvedSteps
        return resolved
    }

    /// Shuffled training batches with the train transforms.
    public func trainLoader(batchSize: Int, seed: Int, threadPool: ThreadPool? = nil) -> BatchLoader {
        BatchLoader(dataset: trainFile, indices: split.trainIndices, pipeline: trainPipeline, batchSize: batchSize,
                    shuffle: true, seed: UInt64(seed), threadPool: threadPool)
    }

    /// Validation batches in fixed order with the eval transforms; nil when `validation_split` is 0.
    public func validationLoader(batchSize: Int, seed: Int, threadPool: ThreadPool? = nil) -> BatchLoader? {
        guard !split.validationIndices.isEmpty else { return nil }
        return BatchLoader(dataset: trainFile, indices: split.validationIndices, pipeline: evalPipeline,
                           batchSize: batchSize, shuffle: false, seed: UInt64(seed) &+ 1, threadPool: threadPool)
    }

    /// Test batches in file order with the eval transforms.
    public func testLoader(batchSize: Int, seed: Int, threadPool: ThreadPool? = nil) -> BatchLoader {
        BatchLoader(dataset: test, indices: Array(0..<test.count), pipeline: evalPipeline, batchSize: batchSize,
                    shuffle: false, seed: UInt64(seed) &+ 2, threadPool: threadPool)
    }
}
