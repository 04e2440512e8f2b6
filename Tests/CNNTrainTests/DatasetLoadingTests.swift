import Foundation
import Testing
@testable import CNNTrain
import CNNKernels
import CNNSpec

private func syntheticDataset(count: Int) throws -> Dataset {
    let images = (0..<(count * 2 * 5 * 5)).map { UInt8(($0 * 31) % 256) }
    return try Dataset(name: "synthetic", images: images, labels: (0..<count).map { Int32($0 % 10) }, channels: 2,
                       height: 5, width: 5, classNames: Dataset.classNames(of: .cifar10))
}

@Test func splitIsSeededDisjointAndComplete() {
    let split = DatasetSplit(count: 1000, validationFraction: 0.1, seed: 7)
    #expect(split.trainIndices.count == 900 && split.validationIndices.count == 100)
    #expect(Set(split.trainIndices + split.validationIndices) == Set(0..<1000))
    #expect(split == DatasetSplit(count: 1000, validationFraction: 0.1, seed: 7))
    #expect(split != DatasetSplit(count: 1000, validationFraction: 0.1, seed: 8))
    #expect(DatasetSplit(count: 10, validationFraction: 0, seed: 1).trainIndices == Array(0..<10))
}

@Test func batchesDoNotDependOnThreadCountAndShuffleBySeedAndEpoch() throws {
    let dataset = try syntheticDataset(count: 37)
    let pipeline = try TransformPipeline(steps: [.randomCrop(height: 4, width: 4, padding: 1), .horizontalFlip(probability: 0.5),
                                                 .scale], channels: 2, height: 5, width: 5)
    let pool = ThreadPool(threadCount: 2)
    let single = BatchLoader(dataset: dataset, indices: Array(0..<37), pipeline: pipeline, batchSize: 16, shuffle: true, seed: 5,
                             prefetch: false)
    let prefetched = BatchLoader(dataset: dataset, indices: Array(0..<37), pipeline: pipeline, batchSize: 16, shuffle: true, seed: 5)
    let parallel = BatchLoader(dataset: dataset, indices: Array(0..<37), pipeline: pipeline, batchSize: 16, shuffle: true,
                               seed: 5, threadPool: pool)
    #expect(single.batchCount == 3 && single.samples(inBatch: 2) == 5)
    func epochBatches(_ loader: BatchLoader, epoch: Int) -> ([Float], [Int32]) {
        loader.startEpoch(epoch)
        var images: [Float] = [], labels: [Int32] = []
        var imageBuffer = [Float](repeating: 0, count: 16 * pipeline.outputCount)
        var labelBuffer = [Int32](repeating: -1, count: 16)
        for batch in 0..<loader.batchCount {
            let n = loader.fill(batch: batch, images: &imageBuffer, labels: &labelBuffer)
            images += imageBuffer[0..<(n * pipeline.outputCount)]
            labels += labelBuffer[0..<n]
        }
        return (images, labels)
    }
    let first = epochBatches(single, epoch: 0)
    #expect(epochBatches(parallel, epoch: 0) == first)
    // Prefetching on a background thread (the next batch while the caller works) gives the same batches,
    // also across an epoch change and when a batch is asked for out of order (a resumed run).
    #expect(epochBatches(prefetched, epoch: 0) == first)
    #expect(epochBatches(prefetched, epoch: 1) == epochBatches(single, epoch: 1))
    prefetched.startEpoch(0)
    var imageBuffer = [Float](repeating: 0, count: 16 * pipeline.outputCount), labelBuffer = [Int32](repeating: -1, count: 16)
    _ = prefetched.fill(batch: 2, images: &imageBuffer, labels: &labelBuffer)
    #expect(Array(labelBuffer[0..<5]) == Array(first.1[32..<37]))
    _ = prefetched.fill(batch: 0, images: &imageBuffer, labels: &labelBuffer)
    #expect(Array(imageBuffer) == Array(first.0[0..<(16 * pipeline.outputCount)]))
    #expect(epochBatches(single, epoch: 0) == first)
    let second = epochBatches(single, epoch: 1)
    #expect(second.1 != first.1)
    #expect(second.1.sorted() == first.1.sorted())
    #expect(single.order.map { dataset.labels[$0] } == second.1)
}

@Test func trainingDataWiresSplitAndPipelines() throws {
    let config = DataConfig(dataset: .cifar10, validationSplit: 0.25, trainTransforms: [.scale, .normalize(.auto)],
                            evalTransforms: [.scale])
    let data = try TrainingData(trainFile: try syntheticDataset(count: 20), test: try syntheticDataset(count: 4),
                                config: config, seed: 3)
    #expect(data.split.trainIndices.count == 15)
    #expect(data.sampleShape == [2, 5, 5])
    let resolved = data.resolving(config)
    guard case .normalize(.fixed(let mean, _)) = resolved.trainTransforms[1] else { Issue.record("not resolved"); return }
    #expect(mean.count == 2)
    #expect(data.validationLoader(batchSize: 8, seed: 3)?.sampleCount == 5)
    #expect(data.testLoader(batchSize: 8, seed: 3).batchCount == 1)
    let mismatched = DataConfig(trainTransforms: [.resize(height: 8, width: 8)], evalTransforms: [])
    #expect(throws: DataError.self) {
        try TrainingData(trainFile: try syntheticDataset(count: 4), test: try syntheticDataset(count: 4), config: mismatched, seed: 1)
    }
}

/// The repository's `data/` folder (where scripts/fetch-data puts datasets).
private let repositoryData = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("data")

/// Where the real datasets are, and whether they are there (a missing one shows as a skipped test).
private let mnistRoot = repositoryData.appendingPathComponent("mnist").path
private let hasMNIST = FileManager.default.fileExists(atPath: mnistRoot + "/train-images-idx3-ubyte")
private let hasFashionMNIST = FileManager.default.fileExists(atPath: DatasetLocator.systemFashionMNIST + "/train-images-idx3-ubyte.gz")

@Test(.enabled(if: hasMNIST, "no MNIST in data/mnist (run scripts/fetch-data mnist)"))
func realMNISTFilesLoadWhenPresent() throws {
    let root = mnistRoot
    let (train, test) = try DatasetLocator.load(.mnist, root: root)
    #expect(train.count == 60000 && test.count == 10000 && train.height == 28 && train.width == 28)
    let statistics = ChannelStatistics(of: train)
    #expect(abs(statistics.mean[0] - 0.1307) < 1e-4 && abs(statistics.std[0] - 0.3081) < 1e-4)
    #expect(train.labels.prefix(5) == [5, 0, 4, 1, 9])
}

@Test(.enabled(if: hasFashionMNIST, "no Fashion-MNIST in /usr/share/datasets/fashion-mnist (run scripts/fetch-data fashion-mnist)"))
func realFashionMNISTFilesLoadWhenPresent() throws {
    let root = DatasetLocator.systemFashionMNIST
    let (train, test) = try DatasetLocator.load(.fashionMNIST, root: root)
    #expect(train.count == 60000 && test.count == 10000)
    let statistics = ChannelStatistics(of: train)
    #expect(abs(statistics.mean[0] - 0.2860) < 1e-4 && abs(statistics.std[0] - 0.3530) < 1e-4)
    #expect(Dictionary(grouping: train.labels, by: { $0 }).values.allSatisfy { $0.count == 6000 })
}
