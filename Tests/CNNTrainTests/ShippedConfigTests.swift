import CNNSpec
import Foundation
import Testing
import CNNLayers
@testable import CNNTrain

/// Every config in configs/ loads, names a model that loads, and its data fits that model.
@Suite struct ShippedConfigTests {
    static let configs: [String] = {
        let folder = TrainingTestSupport.repository.appendingPathComponent("configs")
        let files = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return files.filter { $0.hasSuffix(".yaml") }.sorted().map { folder.appendingPathComponent($0).path }
    }()

    @Test func everyTutorialExperimentHasAConfig() {
        let names = Set(Self.configs.map { URL(fileURLWithPath: $0).deletingPathExtension().lastPathComponent })
        for expected in ["modelA", "modelB", "modelC", "lenet5-mnist", "lenet5-maxpool-mnist", "dropout-cnn", "lenet-fashion",
                         "lenet5-cifar10", "lenet5-cifar10-improved", "mnist-best", "fashion-best"] {
            #expect(names.contains(expected), "configs/\(expected).yaml is missing")
        }
    }

    @Test(arguments: configs)
    func configFitsItsModel(path: String) throws {
        let config = try RunConfigLoader.load(path: path)
        let graph = try ModelSpecLoader.load(config: config, catalog: .standard)
        let (channels, size) = config.data.dataset == .cifar10 ? (3, 32) : (1, 28)
        let statistics = try Dataset(name: "blank", images: [UInt8](repeating: 128, count: 2 * channels * size * size),
                                     labels: [0, 1], channels: channels, height: size, width: size,
                                     classNames: Dataset.classNames(of: config.data.dataset))
        for steps in [config.data.trainTransforms, config.data.evalTransforms] {
            let pipeline = try TransformPipeline(steps: steps, channels: channels, height: size, width: size,
                                                 statistics: ChannelStatistics(of: statistics))
            #expect([pipeline.outputChannels, pipeline.outputHeight, pipeline.outputWidth] == graph.inputShape.dimensions,
                    "\(path): transforms give a sample the model does not take")
        }
        let classes = Dataset.classNames(of: config.data.dataset)
        if !classes.isEmpty {  // folder and npy datasets name their classes from the files
            #expect(graph.outputShape.elementCount == classes.count)
        }
    }
}
