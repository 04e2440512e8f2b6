import Foundation
import Testing
import CNNLayers
@testable import CNNSpec

/// Every file in models/ loads, and its totals are the standard ones.
@Suite struct ModelZooTests {
    static let expectedParameters: [String: Int] = [
        "lenet5.yaml": 61_706,
        "lenet5-maxpool.yaml": 61_706,
        "lenet5-cifar10.yaml": 62_006,
        "lenet-fashion.yaml": 44_426,
        "modelA.yaml": 28_938,
        "modelB.yaml": 28_938,
        "modelC.yaml": 18_378,
        "dropout-cnn.yaml": 206_390,
        "alexnet.yaml": 62_378_344,
        "vgg16.yaml": 138_357_544,
        "resnet18.yaml": 11_689_512,
        "resnet18-cifar.yaml": 11_173_962,
        "inception-module.yaml": 163_696,
        "mnist-cnn.yaml": 107_002,
        "fashion-cnn.yaml": 390_634,
    ]

    @Test func everyModelFileIsCovered() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: SpecTestSupport.modelsDirectory.path)
            .filter { $0.hasSuffix(".yaml") }
        #expect(Set(files) == Set(Self.expectedParameters.keys))
    }

    @Test(arguments: expectedParameters.keys.sorted())
    func parameterTotal(file: String) throws {
        let graph = try ModelSpecLoader.load(path: SpecTestSupport.modelPath(file), catalog: .standard)
        #expect(graph.totalParameters == Self.expectedParameters[file])
        #expect(graph.nodes.enumerated().allSatisfy { index, node in node.inputs.allSatisfy { $0 < index } })
        #expect(Set(graph.nodes.map(\.name)).count == graph.nodes.count)
    }

    @Test func modelAShapesMatchTheTutorial() throws {
        let graph = try ModelSpecLoader.load(path: SpecTestSupport.modelPath("modelA.yaml"), catalog: .standard)
        let shapes = graph.nodes.filter { $0.op.kindName == "conv2d" || $0.op.kindName == "maxpool" || $0.op.kindName == "flatten"
            || $0.op.kindName == "linear" }.map(\.outputShape.description)
        #expect(shapes == ["16×28×28", "16×14×14", "32×14×14", "32×7×7", "1568", "10"])
        #expect(graph.nodes.filter { $0.parameterCount > 0 }.map(\.name) == ["cnn1", "cnn2", "fc1"])
    }

    @Test func classicNetworksHaveTheirStandardShapesAndCosts() throws {
        let alexnet = try ModelSpecLoader.load(path: SpecTestSupport.modelPath("alexnet.yaml"), catalog: .standard)
        #expect(alexnet.nodes.first { $0.name == "maxpool5" }?.outputShape == .image(channels: 256, height: 6, width: 6))
        #expect(alexnet.nodes.first { $0.name == "conv1" }?.parameterCount == 34_944)

        let resnet = try ModelSpecLoader.load(path: SpecTestSupport.modelPath("resnet18.yaml"), catalog: .standard)
        let names = Set(resnet.nodes.map(\.name))
        #expect(names.isSuperset(of: ["conv1", "bn1", "layer1.0.conv1", "layer2.0.downsample.0", "layer2.0.downsample.1", "layer4.1.bn2", "fc"]))
        #expect(resnet.nodes.first { $0.name == "layer4.1.relu2" }?.outputShape == .image(channels: 512, height: 7, width: 7))
        #expect(resnet.nodes.filter { $0.op.kindName == "add" }.count == 8)
        #expect(resnet.totalMACs == 1_814_073_344)   // the commonly quoted 1.8 GMACs

        let inception = try ModelSpecLoader.load(path: SpecTestSupport.modelPath("inception-module.yaml"), catalog: .standard)
        #expect(inception.outputShape == .image(channels: 256, height: 28, width: 28))
        #expect(inception.nodes.last?.op.kindName == "concat" && inception.nodes.last?.inputs.count == 4)
    }
}
