import CNNKernels
@testable import CNNLayers
import CNNSpec
import PyTorchFixtures
import Testing
@testable import CNNTrain

/// Every layer option and kind written in YAML, compiled by the plan and run forward and backward,
/// against PyTorch's tensors: the definitions wire the right kernel with the right arguments.
@Suite struct LayerFixtureTests {
    /// Output, input gradient and parameter gradients of the one layer `entry` (named `l`) on the fixture's tensors.
    struct Result {
        var output: [Float]
        var gradInput: [Float]
        var plan: ExecutionPlan
    }

    /// Runs `input → identity (x) → entry (l)`; the identity gives the layer an input gradient to write.
    static func run(_ entry: String, fixture: PyTorchFixture, backend: BackendRequest = .fixed(.im2col),
                    parameters: [String] = [], flattenInput: Bool = false) throws -> Result {
        let input = try fixture.tensor("input")
        let batch = input.shape[0]
        let chw = input.shape.count == 4 ? input.shape.dropFirst().map(String.init) : [String(input.shape[1]), "1", "1"]
        let first = flattenInput ? "flatten: {name: x}" : "identity: {name: x}"
        let yaml = "input: [\(chw.joined(separator: ", "))]\nlayers:\n  - \(first)\n  - \(entry)\n"
        let graph = try ModelSpecLoader.load(yaml: yaml, catalog: .standard)
        let plan = try ExecutionPlan(graph: graph, batchCapacity: batch, backend: backend, threads: 2)
        for name in parameters {
            let values = try fixture.tensor(name).data
            let pointer = try #require(plan.parameters.pointer("l." + name), "no parameter l.\(name)")
            #expect(plan.parameters.entry("l." + name)?.count == values.count)
            pointer.update(from: values, count: values.count)
        }
        plan.parametersDidChange()
        plan.input.update(from: input.data, count: input.data.count)
        plan.forward(batch: batch, training: true)
        let gradOutput = try fixture.tensor("grad_output").data
        let outputCount = batch * graph.outputShape.elementCount
        #expect(gradOutput.count == outputCount, "output shape \(graph.outputShape) differs from PyTorch's")
        let output = Array(UnsafeBufferPointer(start: plan.logits, count: outputCount))
        try #require(plan.outputGradient).update(from: gradOutput, count: min(gradOutput.count, outputCount))
        plan.backward(batch: batch)
        let gradInput = Array(UnsafeBufferPointer(start: try #require(plan.gradient(ofNode: 1)), count: input.data.count))
        return Result(output: output, gradInput: gradInput, plan: plan)
    }

    /// Relative error of `actual` against the fixture's `key`, with the tensor's `scaledFloor` (at least 1e-2) as
    /// the floor: values are sums of many terms, so float32 rounding near 0 is an ulp of the tensor's scale.
    static func error(_ actual: [Float], _ fixture: PyTorchFixture, _ key: String) throws -> Float {
        let expected = try fixture.tensor(key).data
        return maxRelativeError(actual, expected, floor: scaledFloor(expected, minimum: 1e-2))
    }

    static func check(_ result: Result, _ fixture: PyTorchFixture, parameters: [String] = [], _ label: String) throws {
        let outputError = try error(result.output, fixture, "output")
        #expect(outputError < 1e-4, "\(label): output off by \(outputError)")
        let inputError = try error(result.gradInput, fixture, "grad_input")
        #expect(inputError < 1e-4, "\(label): grad_input off by \(inputError)")
        for name in parameters {
            let entry = try #require(result.plan.parameters.entry("l." + name))
            let gradient = Array(UnsafeBufferPointer(start: result.plan.parameters.gradientPointer("l." + name), count: entry.count))
            #expect(try error(gradient, fixture, "grad_" + name) < 1e-4, "\(label): grad_\(name)")
        }
    }

    static let convolutionFixtures = PyTorchFixture.names(withPrefix: "convopt_")

    /// The YAML of a `convopt_*` fixture's layer, from its config.
    static func convolutionEntry(_ fixture: PyTorchFixture) throws -> String {
        let weight = try fixture.tensor("weight").shape
        let config = fixture.config
        func pair(_ key: String) -> String { let p = fixture.pair(key); return p.isEmpty ? "1" : "[\(p[0]), \(p[1])]" }
        let padding = config["padding"] as? String ?? pair("padding")
        let groups = config["groups"] as? Int ?? 1
        let inChannels = try fixture.tensor("input").shape[1]
        let groupsText = groups == inChannels && groups > 1 ? "in" : String(groups)
        return "conv2d: {name: l, out: \(weight[0]), kernel: [\(weight[2]), \(weight[3])], stride: \(pair("stride")), "
            + "padding: \(padding), dilation: \(pair("dilation")), groups: \(groupsText), "
            + "padding_mode: \(config["padding_mode"] as? String ?? "zeros")}"
    }

    @Test(arguments: convolutionFixtures)
    func convolutionOptionsMatchPyTorchInEveryBackendThatTakesThem(name: String) throws {
        let fixture = try PyTorchFixture.load(name)
        let entry = try Self.convolutionEntry(fixture)
        var accepted: [ConvolutionBackendKind] = []
        for backend in ConvolutionBackendKind.allCases {
            let result: Result
            do {
                result = try Self.run(entry, fixture: fixture, backend: .fixed(backend), parameters: ["weight", "bias"])
            } catch let error as PlanError {
                // A backend may refuse an option, with a reason; direct and im2col take every option.
                #expect(backend == .toeplitz || backend == .depthwise || backend == .winograd,
                        "\(backend) refused \(name): \(error)")
                continue
            }
            accepted.append(backend)
            try Self.check(result, fixture, parameters: ["weight", "bias"], "\(name) on \(backend)")
        }
        #expect(accepted.contains(.direct) && accepted.contains(.im2col))
        if name.contains("depthwise") { #expect(accepted.contains(.depthwise)) }
    }

    @Test func autoSkipsBackendsThatRefuseTheLayer() throws {
        let fixture = try PyTorchFixture.load("convopt_groups2")
        let result = try Self.run(try Self.convolutionEntry(fixture), fixture: fixture, backend: .auto, parameters: ["weight", "bias"])
        let selection = try #require(result.plan.backendSelections.first)
        #expect(selection.timings.contains { $0.backend == .toeplitz && $0.milliseconds == nil })
        #expect(selection.chosen != .toeplitz)
        try Self.check(result, fixture, parameters: ["weight", "bias"], "auto")
    }

    @Test(arguments: [
        ("maxpool_k2_s2_ceil_odd", "maxpool: {name: l, kernel: 2, stride: 2, ceil_mode: true}"),
        ("maxpool_k3_s2_ceil", "maxpool: {name: l, kernel: 3, stride: 2, ceil_mode: true}"),
        ("avgpool_k3_s2_ceil_count_pad", "avgpool: {name: l, kernel: 3, stride: 2, padding: 1, ceil_mode: true}"),
        ("avgpool_k3_s2_ceil_exclude_pad", "avgpool: {name: l, kernel: 3, stride: 2, padding: 1, ceil_mode: true, count_include_pad: false}"),
        ("avgpool_k3_s2_p1_exclude_pad", "avgpool: {name: l, kernel: 3, stride: 2, padding: 1, count_include_pad: false}"),
        ("adaptive_avgpool_10x9_to_4x2", "adaptive_avgpool: {name: l, output: [4, 2]}"),
        ("adaptive_avgpool_7_to_3", "adaptive_avgpool: {name: l, output_size: 3}"),
        ("adaptive_avgpool_to_1", "adaptive_avgpool: {name: l}"),
        ("adaptive_maxpool_7_to_3", "adaptive_maxpool: {name: l, output: 3}"),
        ("gelu", "gelu: {name: l}"), ("gelu_tanh", "gelu: {name: l, approximate: tanh}"), ("silu", "silu: {name: l}"),
        ("elu", "elu: {name: l, alpha: 1.0}"), ("relu6", "relu6: {name: l}"), ("hardswish", "hardswish: {name: l}"),
        ("hardsigmoid", "hardsigmoid: {name: l}"), ("mish", "mish: {name: l}"), ("softplus", "softplus: {name: l}"),
    ])
    func layerMatchesPyTorch(fixture name: String, entry: String) throws {
        let fixture = try PyTorchFixture.load(name)
        try Self.check(try Self.run(entry, fixture: fixture), fixture, name)
    }

    @Test func preluPerChannelLearnsItsSlopes() throws {
        let fixture = try PyTorchFixture.load("prelu_per_channel")
        let result = try Self.run("prelu: {name: l, num_parameters: channels}", fixture: fixture, parameters: ["weight"])
        try Self.check(result, fixture, parameters: ["weight"], "prelu")
    }

    @Test func batchNorm1dAfterAVectorTrainsLikePyTorch() throws {
        let fixture = try PyTorchFixture.load("batchnorm1d_train")
        let result = try Self.run("batchnorm1d: {name: l}", fixture: fixture, parameters: ["weight", "bias"], flattenInput: true)
        try Self.check(result, fixture, parameters: ["weight", "bias"], "batchnorm1d")
        for name in ["running_mean", "running_var"] {
            #expect(maxRelativeError(result.plan.parameters.values(of: "l." + name), try fixture.tensor(name).data) < 1e-4, "\(name)")
        }
    }
}

/// One network that uses every layer kind of the catalog learns a fixed batch; a network of the
/// smooth kinds (where finite differences are exact enough) has the gradients finite differences give.
/// The kinks of ReLU-like kinds and max pooling are checked against PyTorch's gradients above.
@Suite struct AllKindsGradientTests {
    static let allKinds = """
    input: [3, 12, 12]
    layers:
      - conv: {out: 8, kernel: 3, padding: same, padding_mode: reflect}
      - batchnorm2d
      - prelu: {num_parameters: channels}
      - conv: {out: 8, kernel: 3, groups: in, padding: 1, backend: depthwise}
      - hardswish
      - conv: {out: 8, kernel: 2, padding: same, dilation: 2, groups: 2}
      - relu6
      - local_response_norm: {size: 3, k: 2}
      - gelu: {name: feat}
      - global_avgpool: {name: squeeze}
      - conv: {out: 4, kernel: 1}
      - silu
      - conv: {out: 8, kernel: 1}
      - hardsigmoid: {name: gate}
      - mul: {from: [feat, gate]}
      - add: {from: [feat]}
      - concat: {from: [feat]}
      - channel_shuffle: 4
      - maxpool: {kernel: 3, stride: 2, ceil_mode: true}
      - avgpool: {kernel: 2, padding: 1, count_include_pad: false}
      - elu
      - mish
      - adaptive_maxpool: 3
      - softplus: {beta: 2}
      - leaky_relu: 0.1
      - dropout2d: 0.1
      - identity
      - adaptive_avgpool: [2, 2]
      - tanh
      - flatten
      - linear: 12
      - batchnorm1d
      - sigmoid
      - relu
      - dropout: 0.1
      - linear: 5
    """

    static let smoothKinds = """
    input: [3, 12, 12]
    layers:
      - conv: {out: 8, kernel: 3, padding: same, padding_mode: reflect}
      - batchnorm2d
      - conv: {out: 8, kernel: 3, groups: in, padding: 1, backend: depthwise}
      - gelu
      - conv: {out: 8, kernel: 2, padding: same, dilation: 2, groups: 2, padding_mode: circular}
      - local_response_norm: {size: 3, k: 2}
      - silu: {name: feat}
      - global_avgpool
      - conv: {out: 4, kernel: 1}
      - elu
      - conv: {out: 8, kernel: 1}
      - sigmoid: {name: gate}
      - mul: {from: [feat, gate]}
      - add: {from: [feat]}
      - concat: {from: [feat]}
      - channel_shuffle: 2
      - avgpool: {kernel: 3, stride: 2, padding: 1, ceil_mode: true, count_include_pad: false}
      - mish
      - conv: {out: 6, kernel: 3, padding: 1, padding_mode: replicate}
      - softplus: {beta: 2}
      - adaptive_avgpool: [2, 3]
      - tanh
      - flatten
      - linear: 12
      - batchnorm1d
      - gelu: {approximate: tanh}
      - linear: 5
    """

    @Test func everyKindIsExercised() throws {
        let graph = try ModelSpecLoader.load(yaml: Self.allKinds, catalog: .standard)
        let used = Set(graph.nodes.map(\.op.kindName))
        for definition in LayerCatalog.standard.definitions {
            #expect(used.contains(definition.name), "\(definition.name) is not exercised")
        }
    }

    /// Sixty SGD steps on one batch lower the loss of the all-kinds network: every backward pass
    /// feeds its parameters something useful.
    @Test func allKindsNetworkLearnsABatch() throws {
        let graph = try ModelSpecLoader.load(yaml: Self.allKinds, catalog: .standard)
        let batch = 4
        let plan = try ExecutionPlan(graph: graph, batchCapacity: batch, backend: .auto, threads: 2, seed: 5)
        var generator = SeededGenerator(seed: 17)
        for index in 0..<(batch * 3 * 12 * 12) { plan.input[index] = Float.random(in: -1..<1, using: &generator) }
        let labels: [Int32] = [4, 0, 2, 1]
        let optimizer = Optimizer(settings: .sgd(momentum: 0.9, dampening: 0, nesterov: false, weightDecay: 0), parameters: plan.parameters)
        var losses: [Float] = []
        for _ in 0..<60 {
            let (loss, _) = labels.withUnsafeBufferPointer { plan.trainStep(batch: batch, labels: $0.baseAddress!) }
            losses.append(loss)
            optimizer.step(learningRate: 0.1)
            plan.parametersDidChange()
        }
        #expect(losses.allSatisfy { $0.isFinite })
        let lastFive = losses.suffix(5).reduce(0, +) / 5
        #expect(lastFive < 0.5 * losses[0], "losses \(losses)")
    }

    @Test func smoothKindsGradientsMatchFiniteDifferences() throws {
        let graph = try ModelSpecLoader.load(yaml: Self.smoothKinds, catalog: .standard)
        let batch = 3
        let plan = try ExecutionPlan(graph: graph, batchCapacity: batch, backend: .fixed(.im2col), threads: 2, seed: 5)
        var generator = SeededGenerator(seed: 17)
        for index in 0..<(batch * 3 * 12 * 12) { plan.input[index] = Float.random(in: -1..<1, using: &generator) }
        let labels: [Int32] = [4, 0, 2]
        /// The training-mode loss (batch statistics), which the analytic gradient differentiates.
        func loss() -> Double {
            plan.parametersDidChange()
            plan.forward(batch: batch, training: true)
            return Double(labels.withUnsafeBufferPointer { plan.loss(batch: batch, labels: $0.baseAddress!, computeGradient: false).loss })
        }
        _ = labels.withUnsafeBufferPointer { plan.trainStep(batch: batch, labels: $0.baseAddress!) }
        let analytic = Array(plan.parameters.gradients.buffer)
        let values = plan.parameters.values.pointer
        var checked = 0
        for entry in plan.parameters.entries where entry.isTrainable {
            for index in Set([entry.offset, entry.offset + entry.count / 2, entry.offset + entry.count - 1]) {
                let saved = values[index]
                let step: Float = 1e-2
                values[index] = saved + step
                let up = loss()
                values[index] = saved - step
                let down = loss()
                values[index] = saved
                let numeric = Float((up - down) / Double(2 * step))
                #expect(abs(numeric - analytic[index]) <= 1e-3 + 3e-2 * abs(numeric),
                        "\(entry.name)[\(index - entry.offset)]: \(numeric) vs \(analytic[index])")
                checked += 1
            }
        }
        #expect(checked > 40)
    }
}
