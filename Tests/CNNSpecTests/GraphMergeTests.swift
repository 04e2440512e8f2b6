import Testing
import CNNLayers
@testable import CNNSpec

@Suite struct GraphMergeTests {
    @Test func residualAddReadsNamedLayers() throws {
        let graph = try ModelSpecLoader.load(yaml: SpecTestSupport.model([
            "conv: {out: 8, kernel: 3, padding: 1, name: stem}",
            "conv: {out: 8, kernel: 3, padding: 1, name: a}",
            "relu",
            "add: {from: [relu1, stem], name: sum}",
            "add: {from: stem}",
        ]), catalog: .standard)
        #expect(graph.nodes[4].op.kindName == "add" && graph.nodes[4].inputs == [3, 1])
        #expect(graph.nodes[4].outputShape == .image(channels: 8, height: 28, width: 28))
        #expect(graph.nodes[5].inputs == [4, 1])   // one name: the layer before plus that one
        #expect(graph.nodes.enumerated().allSatisfy { index, node in node.inputs.allSatisfy { $0 < index } })
    }

    @Test func concatJoinsChannelsOfBranches() throws {
        let graph = try ModelSpecLoader.load(yaml: SpecTestSupport.model([
            "conv: {out: 4, kernel: 1, name: b1}",
            "conv: {out: 6, kernel: 3, padding: same, from: input, name: b2}",
            "maxpool: {kernel: 3, stride: 1, padding: 1, from: input, name: b3}",
            "concat: {from: [b1, b2, b3]}",
            "flatten", "linear: 10",
        ], input: "[3, 8, 8]"), catalog: .standard)
        #expect(graph.nodes[2].inputs == [0] && graph.nodes[3].inputs == [0])
        #expect(graph.nodes[4].op.kindName == "concat" && graph.nodes[4].inputs == [1, 2, 3])
        #expect(graph.nodes[4].outputShape == .image(channels: 13, height: 8, width: 8))
        #expect(graph.outputShape == .vector(features: 10))
    }

    @Test func repeatExpandsWithPrefixedNames() throws {
        let yaml = """
        input: [1, 8, 8]
        layers:
          - repeat: 3
            layers:
              - conv: {out: 4, kernel: 3, padding: 1}
              - relu
          - repeat: 2
            name: stage
            layers:
              - conv: {out: 4, kernel: 3, padding: 1, name: conv}
              - add: {from: [conv, input], name: sum}
        """
        let graph = try ModelSpecLoader.load(yaml: yaml, catalog: .standard)
        #expect(graph.nodes.map(\.name) == ["input", "conv1", "relu1", "conv2", "relu2", "conv3", "relu3",
                                            "stage.0.conv", "stage.0.sum", "stage.1.conv", "stage.1.sum"])
        #expect(graph.nodes[8].inputs == [7, 6])    // `input` is the repetition's input
        #expect(graph.nodes[10].inputs == [9, 8])
    }

    @Test func blocksTakeArgumentsAndScopeTheirNames() throws {
        let yaml = """
        input: [3, 16, 16]
        blocks:
          unit:
            args: {out: ~, stride: 1}
            layers:
              - conv: {out: $out, kernel: 3, stride: $stride, padding: 1, bias: false, name: conv1}
              - batchnorm2d: {name: bn1}
              - conv: {out: $out, kernel: 1, stride: $stride, bias: false, from: input, name: downsample.0}
              - add: {from: [bn1, downsample.0]}
        layers:
          - unit: {out: 8, name: layer1.0}
          - unit: {out: 16, stride: 2, name: layer2.0}
          - unit: {out: 16}
        """
        let graph = try ModelSpecLoader.load(yaml: yaml, catalog: .standard)
        let names = graph.nodes.map(\.name)
        #expect(names.contains("layer2.0.downsample.0") && names.contains("unit1.conv1") && names.contains("layer1.0.add1"))
        let index = try #require(names.firstIndex(of: "layer2.0.downsample.0"))
        #expect(graph.nodes[index].inputs == [names.firstIndex(of: "layer1.0.add1")])
        #expect(graph.nodes[index].outputShape == .image(channels: 16, height: 8, width: 8))
        #expect(graph.outputShape == .image(channels: 16, height: 8, width: 8))
    }

    @Test func inputOverrideReplacesTheFileInput() throws {
        let graph = try ModelSpecLoader.load(yaml: SpecTestSupport.model(["conv: {out: 4, kernel: 3}", "global_avgpool"]),
                                             catalog: .standard, inputOverride: .image(channels: 1, height: 64, width: 32))
        #expect(graph.inputShape == .image(channels: 1, height: 64, width: 32))
        #expect(graph.nodes[1].outputShape == .image(channels: 4, height: 62, width: 30))
    }
}
