import CNNLayers
import CNNKernels
import CNNSpec
import Foundation
@testable import CNNTrain

/// Helpers for tests that train: small datasets, temp run folders, quiet progress.
enum TrainingTestSupport {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    /// MNIST subsets from `data/mnist` when the files are there (scripts/fetch-data mnist), else nil.
    static func mnistSubset(train: Int, test: Int) -> (train: Dataset, test: Dataset)? {
        let root = repository.appendingPathComponent("data/mnist").path
        guard let (full, fullTest) = try? DatasetLocator.load(.mnist, root: root) else { return nil }
        return (prefix(full, train), prefix(fullTest, test))
    }

    static func prefix(_ dataset: Dataset, _ count: Int) -> Dataset {
        let size = dataset.sampleSize
        // invariant: a prefix of a valid dataset is valid
        return try! Dataset(name: dataset.name, images: Array(dataset.images.prefix(count * size)),
                            labels: Array(dataset.labels.prefix(count)), channels: dataset.channels,
                            height: dataset.height, width: dataset.width, classNames: dataset.classNames)
    }

    /// A learnable 10-class 28×28 set: class k is a bright 6×6 square at a class-specific place, plus noise.
    static func syntheticDigits(count: Int, seed: UInt64) -> Dataset {
        var generator = SeededGenerator(seed: seed)
        var images = [UInt8](repeating: 0, count: count * 784)
        var labels = [Int32](repeating: 0, count: count)
        for index in 0..<count {
            let label = Int(generator.next() % 10)
            labels[index] = Int32(label)
            let top = 3 + (label / 5) * 12 + Int(generator.next() % 3)
            let left = 2 + (label % 5) * 5 + Int(generator.next() % 2)
            for pixel in 0..<784 { images[index * 784 + pixel] = UInt8(generator.next() % 60) }
            for y in top..<(top + 6) { for x in left..<(left + 4) { images[index * 784 + y * 28 + x] = 255 } }
        }
        // invariant: sizes are consistent by construction
        return try! Dataset(name: "synthetic", images: images, labels: labels, channels: 1, height: 28, width: 28,
                            classNames: (0...9).map(String.init))
    }

    /// Real MNIST subsets when present, else the synthetic set (both must be learnable).
    static func smallData(train: Int = 2000, test: Int = 500) -> (train: Dataset, test: Dataset, isReal: Bool) {
        if let real = mnistSubset(train: train, test: test) { return (real.train, real.test, true) }
        return (syntheticDigits(count: train, seed: 1), syntheticDigits(count: test, seed: 2), false)
    }

    /// This test process's folder for temporary run folders, `cnnspec-tests-PID`, removed when the
    /// process exits (so tests that forget to clean up leave nothing behind); folders of earlier test
    /// processes that are gone (killed before they could clean up) are removed when it is made.
    static let temporaryRoot: URL = {
        let manager = FileManager.default
        let base = manager.temporaryDirectory
        for name in (try? manager.contentsOfDirectory(atPath: base.path)) ?? [] where name.hasPrefix("cnnspec-tests-") {
            let pid = Int32(name.dropFirst("cnnspec-tests-".count)) ?? 0
            if pid == 0 || (kill(pid, 0) != 0 && errno == ESRCH) {
                try? manager.removeItem(at: base.appendingPathComponent(name))
            }
        }
        let root = base.appendingPathComponent("cnnspec-tests-\(getpid())")
        try? manager.createDirectory(at: root, withIntermediateDirectories: true)
        atexit { try? FileManager.default.removeItem(at: TrainingTestSupport.temporaryRoot) }
        return root
    }()

    /// A fresh empty folder under `temporaryRoot`.
    static func temporaryFolder() -> URL {
        let url = temporaryRoot.appendingPathComponent(UUID().uuidString)
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Model A from models/modelA.yaml and a short SGD recipe over `data`.
    static func modelARun(epochs: Int = 2, batch: Int = 50, backend: BackendRequest = .fixed(.direct), threads: Int = 2,
                          learningRate: Double = 0.05, checkpointEvery: String = "5m", model: String = "modelA.yaml",
                          folder: URL) throws -> (config: RunConfig, graph: ModelGraph) {
        let modelPath = repository.appendingPathComponent("models/" + model).path
        let yaml = """
            model: \(modelPath)
            data: {dataset: mnist, validation_split: 0.1}
            train:
              batch_size: \(batch)
              epochs: \(epochs)
              optimizer: {name: sgd, lr: \(learningRate), momentum: 0.9}
              checkpoint_every: \(checkpointEvery)
              threads: \(threads)
              backend: \(backend.rawValue)
            output: {dir: \(folder.path)}
            """
        let config = try RunConfigLoader.parse(yaml, file: "test.yaml")
        return (config, try ModelSpecLoader.load(path: modelPath, catalog: .standard))
    }

    /// Model A trained for one epoch on `smallData(train:test:)` into `folder`, and evaluation's
    /// predictions for the test set (the reference the predict path must reproduce).
    static func trainedModelA(folder: URL, train: Int, test: Int, backend: BackendRequest = .fixed(.direct)) throws
        -> (trainer: Trainer, data: TrainingData, test: Dataset, reference: TestPredictions, isReal: Bool) {
        let (trainSet, testSet, isReal) = smallData(train: train, test: test)
        let (config, graph) = try modelARun(epochs: 1, backend: backend, folder: folder)
        let data = try TrainingData(trainFile: trainSet, test: testSet, config: config.data, seed: config.train.seed)
        let trainer = try Trainer(config: config, graph: graph, data: data, folder: try RunFolder(url: folder), reporter: quiet)
        _ = try trainer.run()
        let plan = trainer.plan
        let loader = data.testLoader(batchSize: plan.batchCapacity, seed: 0, threadPool: plan.pool)
        return (trainer, data, testSet, TestPredictions.compute(plan: plan, loader: loader, classNames: data.classNames), isReal)
    }

    static var quiet: ProgressReporter { ProgressReporter(isTerminal: false, plainInterval: .infinity) }
}
