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
        "mobilenet_v2.yaml": 3_504_872,
        "efficientnet_b0.yaml": 5_288_548,
        "resnet50.yaml": 25_557_032,
        "densenet121.yaml": 7_978_856,
        "googlenet.yaml": 6_624_904,
        "squeezenet1_1.yaml": 1_235_496,
        "alexnet-original.yaml": 60_965_224,
        "mnist-dwsep.yaml": 49_290,
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

    /// Multiply-accumulates per 224×224 image, as torchvision's model docs quote them ("GFLOPS": 0.30, 0.39, 4.09,
    /// 2.83, 1.50, 0.35), and 0.72 G for the two-group AlexNet.
    @Test func zooMACsMatchTheQuotedFigures() throws {
        let expected: [String: Int] = [
            "mobilenet_v2.yaml": 300_774_272, "efficientnet_b0.yaml": 385_814_752, "resnet50.yaml": 4_089_184_256,
            "densenet121.yaml": 2_834_161_664, "googlenet.yaml": 1_498_376_192, "squeezenet1_1.yaml": 349_151_936,
            "alexnet-original.yaml": 724_406_816,
        ]
        for (file, macs) in expected {
            let graph = try ModelSpecLoader.load(path: SpecTestSupport.modelPath(file), catalog: .standard)
            #expect(graph.totalMACs == macs, "\(file)")
            #expect(graph.outputShape.elementCount == 1000, "\(file)")
        }
    }

    /// A shipped zoo file with one line replaced (the text must occur exactly once), and the line number of that line.
    private func mutated(_ file: String, replacing original: String, with replacement: String) throws -> (yaml: String, line: Int) {
        let text = try String(contentsOfFile: SpecTestSupport.modelPath(file), encoding: .utf8)
        let lines = text.components(separatedBy: "\n")
        let hits = lines.indices.filter { lines[$0].contains(original) }
        try #require(hits.count == 1, "'\(original)' should occur once in \(file)")
        var edited = lines
        edited[hits[0]] = lines[hits[0]].replacingOccurrences(of: original, with: replacement)
        return (edited.joined(separator: "\n"), hits[0] + 1)
    }

    /// A wrong channel count inside a block is reported once, at the line of the layer in the block (not at the
    /// block's use), naming the expanded layer — also when the block is reused through a YAML alias or nested.
    @Test func wrongChannelCountInsideABlockIsReportedAtTheBlocksLine() throws {
        // MobileNetV2: the inverted residual's projection conv claims 95 input channels; features.2 gives it 96.
        let mobilenet = try mutated("mobilenet_v2.yaml", replacing: "- conv: {out: $out, kernel: 1, bias: false, name: conv.2}",
                                    with: "- conv: {out: $out, in: 95, kernel: 1, bias: false, name: conv.2}")
        let d1 = SpecTestSupport.diagnostics(mobilenet.yaml, file: "mobilenet_v2.yaml")
        #expect(d1.count == 1)
        #expect(d1.first?.location?.line == mobilenet.line)
        #expect(d1.first?.message.contains("features.2.conv.2: in: 95 is written, but features.2.conv.1.2 gives 96 channels") == true)

        // ResNet-50: the bottleneck's last conv keeps the width, so the residual add inside the block gets 64 and 256
        // channels (the error is at the add of bottleneck_down, the first block use).
        let resnet = try mutated("resnet50.yaml", replacing: "- conv: {out: $out, kernel: 1, bias: false, name: conv3}",
                                 with: "- conv: {out: $width, kernel: 1, bias: false, name: conv3}")
        let addLine = try mutated("resnet50.yaml", replacing: "- add: {from: [bn3, downsample.1], name: add}",
                                  with: "- add: {from: [bn3, downsample.1], name: add}").line
        let d2 = SpecTestSupport.diagnostics(resnet.yaml, file: "resnet50.yaml")
        #expect(d2.count == 1)
        #expect(d2.first?.location?.line == addLine)
        #expect(d2.first?.message.contains("layer1.0.add: add needs inputs of the same shape, but layer1.0.bn3 gives 64×56×56, layer1.0.downsample.1 gives 256×56×56") == true)

        // EfficientNet-B0: the squeeze-and-excitation block (nested in MBConv) expands its gate to the squeezed width,
        // so the channel-wise multiply gets a 32-channel map and an 8-channel gate.
        let efficientnet = try mutated("efficientnet_b0.yaml", replacing: "- conv: {out: $channels, kernel: 1, name: fc2}",
                                       with: "- conv: {out: $squeeze, kernel: 1, name: fc2}")
        let mulLine = try mutated("efficientnet_b0.yaml", replacing: "- mul: {from: [input, scale_activation], name: scale}",
                                  with: "- mul: {from: [input, scale_activation], name: scale}").line
        let d3 = SpecTestSupport.diagnostics(efficientnet.yaml, file: "efficientnet_b0.yaml")
        #expect(d3.count == 1)
        #expect(d3.first?.location?.line == mulLine)
        #expect(d3.first?.message.contains("features.1.0.block.1.scale:") == true)
        #expect(d3.first?.message.contains("32×112×112") == true && d3.first?.message.contains("8×1×1") == true)
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
