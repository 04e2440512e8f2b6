import CNNKernels
import CNNSpec
import Foundation

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

    /// Reshuffle the training samples every epoch (`data.shuffle`).
    public let shuffle: Bool

    public var classNames: [String] { trainFile.classNames }
    /// Shape of one transformed sample, [channels, height, width]: what the model's input must be.
    public var sampleShape: [Int] { [trainPipeline.outputChannels, trainPipeline.outputHeight, trainPipeline.outputWidth] }

    /// Loads the dataset named by `config`, splits it with `config.splitSeed ?? seed`, compiles both
    /// transform lists. Errors say which file is missing or malformed and how to fetch the data.
    ///
    /// `modelInput` ([C, H, W]) is the size folder datasets decode to (their pictures come in any size);
    /// `report` receives decoding progress and notes (standard error by default).
    public static func load(_ config: DataConfig, seed: Int, modelInput: [Int]? = nil,
                            report: @escaping @Sendable (String) -> Void = TrainingData.standardErrorReport) throws(DataError) -> TrainingData {
        switch config.dataset {
        case .folder:
            guard let modelInput, modelInput.count == 3, let root = config.root else {
                throw DataError("a folder dataset takes its image size from the model's input [C, H, W], and none was given")
            }
            guard modelInput[0] == 1 || modelInput[0] == 3 else {
                throw DataError("a folder dataset gives grey (1 channel) or RGB (3 channel) images, but the model's input has \(modelInput[0]) channels")
            }
            let sizing = PictureSizing(data: config, height: modelInput[1], width: modelInput[2])
            let loaded = try FolderDataset.load(root: root, channels: modelInput[0], height: modelInput[1], width: modelInput[2],
                                                onBadFile: config.onBadFile, sizing: sizing, testSplit: config.testSplit,
                                                splitSeed: UInt64(config.splitSeed ?? seed), report: report)
            guard let validation = loaded.validation else {
                return try TrainingData(trainFile: loaded.train, test: loaded.test, config: config, seed: seed)
            }
            // root/val replaces the seeded split: appended after the training samples, served by index.
            let combined = try loaded.train.appending(validation, name: "folder train+val")
            let split = DatasetSplit(trainIndices: Array(0..<loaded.train.count),
                                     validationIndices: Array(loaded.train.count..<combined.count))
            return try TrainingData(trainFile: combined, test: loaded.test, config: config, seed: seed, fixedSplit: split)
        case .npy:
            guard let root = config.root else { throw DataError("an npy dataset needs data.root, the folder holding x_train.npy …") }
            let (train, test) = try NPYFile.loadDataset(root: root)
            return try TrainingData(trainFile: train, test: test, config: config, seed: seed)
        case .mnist, .fashionMNIST, .cifar10:
            let (train, test) = try DatasetLocator.load(config.dataset, root: config.root)
            return try TrainingData(trainFile: train, test: test, config: config, seed: seed)
        }
    }

    /// Writes progress and notes to standard error: progress lines (ending in `\r`) are redrawn in place and
    /// cut to a terminal's width, or written as plain lines now and then when standard error is not a terminal.
    public static let standardErrorReport: @Sendable (String) -> Void = { text in
        TerminalLine.standardError.report(text)
    }

    /// Builds from datasets already in memory (tests, custom data). `fixedSplit` replaces the seeded
    /// validation split (a dataset's own validation part, appended after the training samples: then
    /// `normalize: auto` uses the training part only).
    public init(trainFile: Dataset, test: Dataset, config: DataConfig, seed: Int,
                fixedSplit: DatasetSplit? = nil) throws(DataError) {
        guard trainFile.channels == test.channels,
              trainFile.layout != nil || (trainFile.height == test.height && trainFile.width == test.width) else {
            throw DataError("training images are \(trainFile.shapeAndSource) but test images are \(test.shapeAndSource)",
                            hint: "the training and test files must hold images of one size; fetch them again or fix the files")
        }
        let needsStatistics = (config.trainTransforms + config.evalTransforms).contains(.normalize(.auto))
        var statistics: ChannelStatistics?
        if needsStatistics {
            // A dataset's own validation part (appended after the training samples) is not training data.
            if let fixedSplit, fixedSplit.trainIndices.count < trainFile.count {
                let trainPart = try trainFile.subset(Array(0..<fixedSplit.trainIndices.count), name: trainFile.name)
                statistics = ChannelStatistics(of: trainPart)
            } else {
                statistics = ChannelStatistics(of: trainFile)
            }
        }
        let sizes = trainFile.inputSizes + (trainFile.layout == nil ? [] : test.inputSizes)
        let trainPipeline: TransformPipeline, evalPipeline: TransformPipeline
        do {
            trainPipeline = try TransformPipeline(steps: config.trainTransforms, channels: trainFile.channels, inputSizes: sizes,
                                                  statistics: statistics)
        } catch { throw DataError("data.train_transforms: " + error.message, hint: error.hint) }
        do {
            evalPipeline = try TransformPipeline(steps: config.evalTransforms, channels: trainFile.channels, inputSizes: sizes,
                                                 statistics: statistics)
        } catch { throw DataError("data.eval_transforms: " + error.message, hint: error.hint) }
        let trainShape = [trainPipeline.outputChannels, trainPipeline.outputHeight, trainPipeline.outputWidth]
        let evalShape = [evalPipeline.outputChannels, evalPipeline.outputHeight, evalPipeline.outputWidth]
        guard trainShape == evalShape else {
            throw DataError("data.train_transforms produce \(trainShape) samples but data.eval_transforms produce \(evalShape)",
                            hint: "give both lists the same resize/crop so the model sees one input size")
        }
        self.trainFile = trainFile; self.test = test; self.statistics = statistics
        self.trainPipeline = trainPipeline; self.evalPipeline = evalPipeline
        split = fixedSplit ?? DatasetSplit(count: trainFile.count, validationFraction: config.validationSplit,
                                           seed: UInt64(config.splitSeed ?? seed))
        shuffle = config.shuffle
    }

    /// `config` with `normalize: auto` replaced by the values used, for the run folder's resolved config.
    public func resolving(_ config: DataConfig) -> DataConfig {
        var resolved = config
        resolved.trainTransforms = trainPipeline.resolvedSteps
        resolved.evalTransforms = evalPipeline.resolvedSteps
        return resolved
    }

    /// Training batches with the train transforms, reshuffled every epoch unless `data.shuffle: false`.
    public func trainLoader(batchSize: Int, seed: Int, threadPool: ThreadPool? = nil) -> BatchLoader {
        BatchLoader(dataset: trainFile, indices: split.trainIndices, pipeline: trainPipeline, batchSize: batchSize,
                    shuffle: shuffle, seed: UInt64(seed), threadPool: threadPool)
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
