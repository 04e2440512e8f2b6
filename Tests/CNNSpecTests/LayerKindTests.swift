import Testing
@testable import CNNLayers
@testable import CNNSpec

@Suite struct LayerKindTests {
    @Test func convolutionHyperparametersAndCosts() throws {
        let graph = try ModelSpecLoader.load(yaml: SpecTestSupport.model([
            "conv: {out: 16, kernel: 5, stride: 1, padding: same}",
            "conv: {out: 8, kernel: [3, 1], padding: [1, 0], bias: false, backend: im2col}",
            "conv2d: {out_channels: 4, in_channels: 8, kernel_size: 3, padding: valid}",
        ]), catalog: .standard)
        let first = try #require(graph.nodes[1].op as? Conv2dOperation)
        let second = try #require(graph.nodes[2].op as? Conv2dOperation)
        #expect(first.symmetricPadding == Pair2D(square: 2) && first.inChannels == 1 && first.bias)
        #expect(graph.nodes[1].outputShape == .image(channels: 16, height: 28, width: 28))
        #expect(graph.nodes[1].parameterCount == 16 * 25 + 16)
        #expect(graph.nodes[1].macs == 16 * 28 * 28 * 25)
        #expect(second.kernel == Pair2D(3, 1) && second.symmetricPadding == Pair2D(1, 0) && !second.bias && second.backend == .fixed(.im2col))
        #expect(graph.nodes[2].parameterCount == 8 * 16 * 3)
        #expect(graph.nodes[3].outputShape == .image(channels: 4, height: 26, width: 26))
    }

    @Test func poolingStrideDefaultsToKernel() throws {
        let graph = try ModelSpecLoader.load(yaml: SpecTestSupport.model([
            "maxpool: 2", "avgpool: {kernel: 3, stride: 1, padding: 1, count_include_pad: false}", "maxpool: [2, 1]",
        ]), catalog: .standard)
        #expect(graph.nodes[1].op as? PoolingOperation == PoolingOperation(kindName: "maxpool", mode: .max, kernel: Pair2D(square: 2),
                                                                           stride: Pair2D(square: 2), padding: Pair2D(square: 0), ceilMode: false))
        #expect(graph.nodes[1].outputShape == .image(channels: 1, height: 14, width: 14))
        #expect(graph.nodes[2].op as? PoolingOperation == PoolingOperation(
            kindName: "avgpool", mode: .average(countIncludePad: false), kernel: Pair2D(square: 3), stride: Pair2D(square: 1),
            padding: Pair2D(square: 1), ceilMode: false))
        #expect(graph.nodes[3].outputShape == .image(channels: 1, height: 7, width: 14))
        #expect(graph.nodes.allSatisfy { $0.parameterCount == 0 && $0.macs == 0 })
    }

    @Test func globalAveragePoolCoversTheFeatureMap() throws {
        let graph = try ModelSpecLoader.load(yaml: SpecTestSupport.model(["conv: {out: 4, kernel: 3}", "global_avgpool"], input: "[3, 9, 7]"), catalog: .standard)
        #expect(graph.nodes[2].op as? PoolingOperation == PoolingOperation(
            kindName: "global_avgpool", mode: .average(countIncludePad: true), kernel: Pair2D(7, 5), stride: Pair2D(7, 5),
            padding: Pair2D(square: 0), ceilMode: false))
        #expect(graph.outputShape == .image(channels: 4, height: 1, width: 1))
    }

    @Test func elementwiseLayersKeepTheShape() throws {
        let graph = try ModelSpecLoader.load(yaml: SpecTestSupport.model([
            "relu", "leaky_relu: 0.2", "leaky_relu", "sigmoid", "tanh", "dropout: 0.25", "dropout2d", "batchnorm2d",
            "batchnorm2d: {channels: 1, eps: 0.001, momentum: 0.01}",
        ], input: "[1, 4, 4]"), catalog: .standard)
        let ops = graph.nodes.dropFirst().map(\.op)
        #expect(ops.map(\.kindName) == ["relu", "leaky_relu", "leaky_relu", "sigmoid", "tanh", "dropout", "dropout2d",
                                         "batchnorm2d", "batchnorm2d"])
        #expect(ops.prefix(5).map { ($0 as? ActivationOperation)?.activation }
                == [.relu, .leakyRelu(negativeSlope: 0.2), .leakyRelu(negativeSlope: 0.01), .sigmoid, .tanh])
        #expect(ops[5] as? DropoutOperation == DropoutOperation(kindName: "dropout", probability: 0.25, channelWise: false))
        #expect(ops[6] as? DropoutOperation == DropoutOperation(kindName: "dropout2d", probability: 0.5, channelWise: true))
        #expect(ops[7] as? BatchNormOperation == BatchNormOperation(kindName: "batchnorm2d", channels: 1, eps: 1e-5, momentum: 0.1))
        #expect(ops[8] as? BatchNormOperation == BatchNormOperation(kindName: "batchnorm2d", channels: 1, eps: 0.001, momentum: 0.01))
        #expect(graph.nodes.allSatisfy { $0.outputShape == .image(channels: 1, height: 4, width: 4) })
        #expect(graph.nodes[8].parameterCount == 2)
    }

    @Test func flattenAndLinear() throws {
        let graph = try ModelSpecLoader.load(yaml: SpecTestSupport.model([
            "flatten", "linear: {out: 10, in: 784}", "linear: {out: 5, bias: false}", "fc: 3",
        ]), catalog: .standard)
        #expect(graph.nodes[1].outputShape == .vector(features: 784))
        #expect(graph.nodes[2].op as? LinearOperation == LinearOperation(inFeatures: 784, outFeatures: 10, bias: true))
        #expect(graph.nodes[2].parameterCount == 7850 && graph.nodes[2].macs == 7840)
        #expect(graph.nodes[3].parameterCount == 50)
        #expect(graph.outputShape == .vector(features: 3))
    }

    @Test func linearAfterAFeatureMapGetsAnImplicitFlatten() throws {
        let graph = try ModelSpecLoader.load(yaml: SpecTestSupport.model(["conv: {out: 2, kernel: 3}", "linear: {out: 10, name: head}"]), catalog: .standard)
        #expect(graph.nodes.map(\.name) == ["input", "conv1", "flatten_head", "head"])
        #expect(graph.nodes[2].op.kindName == "flatten" && graph.nodes[2].inputs == [1])
        #expect(graph.nodes[3].inputs == [2]
                && graph.nodes[3].op as? LinearOperation == LinearOperation(inFeatures: 2 * 26 * 26, outFeatures: 10, bias: true))
    }

    @Test func unnamedLayersGetUniqueNames() throws {
        let graph = try ModelSpecLoader.load(yaml: SpecTestSupport.model([
            "conv: {out: 2, kernel: 3}", "relu", "conv: {out: 2, kernel: 3, name: conv1x}", "conv: {out: 2, kernel: 3}",
            "batchnorm2d", "flatten", "linear: {out: 4, name: conv2}", "linear: 2",
        ]), catalog: .standard)
        #expect(graph.nodes.map(\.name) == ["input", "conv1", "relu1", "conv1x", "conv3", "bn1", "flatten1", "conv2", "fc1"])
        #expect(Set(graph.nodes.map(\.name)).count == graph.nodes.count)
    }

    /// A parameterised activation written without its keys gets each key's declared default (PyTorch's), which
    /// is written only in its `LayerKey`: the kernel's kind, the shapes table and the JSON all read it.
    @Test func activationDefaultsComeFromTheKeys() throws {
        let graph = try ModelSpecLoader.load(yaml: SpecTestSupport.model(["leaky_relu", "elu", "softplus", "prelu"], input: "[2, 4, 4]"),
                                             catalog: .standard)
        func declared(_ definition: LayerDefinition, _ key: String) -> Float? {
            if case .number(let value)? = definition.key(key)?.defaultValue { return value }
            return nil
        }
        #expect(declared(.leakyRelu, "negative_slope") == 0.01 && declared(.elu, "alpha") == 1)
        #expect(declared(.softplus, "beta") == 1 && declared(.softplus, "threshold") == 20 && declared(.prelu, "init") == 0.25)
        let activations = graph.nodes.dropFirst().compactMap { ($0.op as? ActivationOperation)?.activation }
        #expect(activations == [.leakyRelu(negativeSlope: 0.01), .elu(alpha: 1), .softplus(beta: 1, threshold: 20)])
        #expect((graph.nodes[1].op as? ActivationOperation)?.summary == "slope 0.01")
        #expect((graph.nodes[3].op as? ActivationOperation)?.jsonFields.map(\.key) == ["beta", "threshold"])
        #expect((graph.nodes[4].op as? PReLUOperation)?.initialSlope == 0.25)
    }
}
