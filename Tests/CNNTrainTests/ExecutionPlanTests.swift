@testable import CNNLayers
import CNNKernels
import CNNSpec
import PyTorchFixtures
import Testing
@testable import CNNTrain

/// Model A of tutorial 002 written as a graph by hand, so the executor is tested apart from the YAML layer.
func modelAGraph() -> ModelGraph {
    func node(_ name: String, _ op: any LayerOperation, _ input: Int, _ shape: TensorShape, params: Int = 0) -> GraphNode {
        GraphNode(name: name, op: op, inputs: [input], outputShape: shape, parameterCount: params, macs: 0, location: nil)
    }
    func conv(_ inChannels: Int, _ outChannels: Int) -> Conv2dOperation {
        Conv2dOperation(inChannels: inChannels, outChannels: outChannels, kernel: Pair2D(square: 5), stride: Pair2D(square: 1),
                        dilation: Pair2D(square: 1), paddingTop: 2, paddingBottom: 2, paddingLeft: 2, paddingRight: 2, groups: 1,
                        paddingMode: .zeros, bias: true, backend: nil)
    }
    let two = Pair2D(square: 2)
    let pool = PoolingOperation(kindName: "maxpool", mode: .max, kernel: two, stride: two, padding: Pair2D(square: 0), ceilMode: false)
    let relu = ActivationOperation(kindName: "relu", activation: .relu, summary: "", jsonFields: [])
    return ModelGraph(name: "modelA", nodes: [
        GraphNode(name: "input", op: InputOperation(), inputs: [], outputShape: .image(channels: 1, height: 28, width: 28),
                  parameterCount: 0, macs: 0, location: nil),
        node("cnn1", conv(1, 16), 0, .image(channels: 16, height: 28, width: 28), params: 416),
        node("relu1", relu, 1, .image(channels: 16, height: 28, width: 28)),
        node("maxpool1", pool, 2, .image(channels: 16, height: 14, width: 14)),
        node("cnn2", conv(16, 32), 3, .image(channels: 32, height: 14, width: 14), params: 12832),
        node("relu2", relu, 4, .image(channels: 32, height: 14, width: 14)),
        node("maxpool2", pool, 5, .image(channels: 32, height: 7, width: 7)),
        node("flatten", ViewOperation(kindName: "flatten"), 6, .vector(features: 1568)),
        node("fc1", LinearOperation(inFeatures: 1568, outFeatures: 10, bias: true), 7, .vector(features: 10), params: 15690),
    ])
}

@Suite struct ExecutionPlanTests {
    static let parameterNames = ["cnn1.weight", "cnn1.bias", "cnn2.weight", "cnn2.bias", "fc1.weight", "fc1.bias"]

    /// Every backend that runs Model A's 5×5 convolutions (depthwise and Winograd refuse them).
    @Test(arguments: ConvolutionBackendKind.allCases.filter { $0 != .depthwise && $0 != .winograd }, KernelTarget.allCases)
    func modelAOneSGDStepMatchesPyTorch(backend: ConvolutionBackendKind, target: KernelTarget) throws {
        let fixture = try PyTorchFixture.load("modelA_one_sgd_step")
        let input = try fixture.tensor("input")
        let batch = input.shape[0]
        let plan = try ExecutionPlan(graph: modelAGraph(), batchCapacity: batch, backend: .fixed(backend), threads: 2,
                                     target: target)
        for name in Self.parameterNames {
            let values = try fixture.tensor(name).data
            let pointer = try #require(plan.parameters.pointer(name))
            #expect(plan.parameters.entry(name)?.count == values.count)
            pointer.update(from: values, count: values.count)
        }
        plan.parametersDidChange()
        plan.input.update(from: input.data, count: input.data.count)
        let labels = try fixture.tensor("labels").data.map { Int32($0) }
        let (loss, _) = labels.withUnsafeBufferPointer { plan.trainStep(batch: batch, labels: $0.baseAddress!) }
        let logits = Array(UnsafeBufferPointer(start: plan.logits, count: batch * 10))
        #expect(maxRelativeError(logits, try fixture.tensor("logits").data) < 1e-4)
        #expect(maxRelativeError([loss], try fixture.tensor("loss").data) < 1e-4)
        for name in Self.parameterNames {
            let entry = try #require(plan.parameters.entry(name))
            let gradient = Array(UnsafeBufferPointer(start: plan.parameters.gradientPointer(name), count: entry.count))
            let error = maxRelativeError(gradient, try fixture.tensor(name + ".grad").data)
            #expect(error < 1e-4, "\(name).grad off by \(error)")
        }
        let optimizer = Optimizer(settings: .sgd(momentum: 0, dampening: 0, nesterov: false, weightDecay: 0),
                                  parameters: plan.parameters)
        optimizer.step(learningRate: 0.01)
        for name in Self.parameterNames {
            let error = maxRelativeError(plan.parameters.values(of: name), try fixture.tensor(name + ".after_step").data)
            #expect(error < 1e-4, "\(name) after step off by \(error)")
        }
    }

    @Test func residualAndConcatGradientsMatchFiniteDifferences() throws {
        // input → conv a → relu ─┬─ add(relu, input) → concat(add, relu) → flatten → linear
        let one = Pair2D(square: 1), three = Pair2D(square: 3)
        let image = TensorShape.image(channels: 2, height: 5, width: 5)
        let nodes = [
            GraphNode(name: "input", op: InputOperation(), inputs: [], outputShape: image, parameterCount: 0, macs: 0, location: nil),
            GraphNode(name: "a", op: Conv2dOperation(inChannels: 2, outChannels: 2, kernel: three, stride: one, dilation: one,
                                                     paddingTop: 1, paddingBottom: 1, paddingLeft: 1, paddingRight: 1, groups: 1,
                                                     paddingMode: .zeros, bias: true, backend: nil),
                      inputs: [0], outputShape: image, parameterCount: 38, macs: 0, location: nil),
            GraphNode(name: "r", op: ActivationOperation(kindName: "tanh", activation: .tanh, summary: "", jsonFields: []), inputs: [1], outputShape: image, parameterCount: 0, macs: 0, location: nil),
            GraphNode(name: "sum", op: MergeOperation(merge: .add), inputs: [2, 0], outputShape: image, parameterCount: 0, macs: 0, location: nil),
            GraphNode(name: "cat", op: MergeOperation(merge: .concat), inputs: [3, 2], outputShape: .image(channels: 4, height: 5, width: 5),
                      parameterCount: 0, macs: 0, location: nil),
            GraphNode(name: "flat", op: ViewOperation(kindName: "flatten"), inputs: [4], outputShape: .vector(features: 100), parameterCount: 0, macs: 0, location: nil),
            GraphNode(name: "fc", op: LinearOperation(inFeatures: 100, outFeatures: 3, bias: true), inputs: [5],
                      outputShape: .vector(features: 3), parameterCount: 303, macs: 0, location: nil),
        ]
        let plan = try ExecutionPlan(graph: ModelGraph(name: "merge", nodes: nodes), batchCapacity: 2, backend: .fixed(.direct),
                                     threads: 1, seed: 3)
        var generator = SeededGenerator(seed: 11)
        for index in 0..<50 { plan.input[index] = Float.random(in: -1..<1, using: &generator) }
        let labels: [Int32] = [2, 0]
        func loss() -> Float {
            plan.parametersDidChange()
            return labels.withUnsafeBufferPointer { plan.evaluate(batch: 2, labels: $0.baseAddress!).loss }
        }
        _ = labels.withUnsafeBufferPointer { plan.trainStep(batch: 2, labels: $0.baseAddress!) }
        let analytic = Array(plan.parameters.gradients.buffer)
        let values = plan.parameters.values.pointer
        for index in stride(from: 0, to: plan.parameters.trainableCount, by: 7) {
            let saved = values[index]
            values[index] = saved + 1e-2
            let up = loss()
            values[index] = saved - 1e-2
            let down = loss()
            values[index] = saved
            let numeric = (up - down) / 2e-2
            #expect(abs(numeric - analytic[index]) <= 2e-3 + 2e-2 * abs(numeric), "parameter \(index)")
        }
    }
}

/// `train.freeze`: layers with no learning layer at or before them run no backward pass.
@Suite struct FrozenPlanTests {
    @Test func aFrozenFeatureExtractorCostsNoGradientWork() throws {
        let fixture = try PyTorchFixture.load("modelA_one_sgd_step")
        let input = try fixture.tensor("input")
        let batch = input.shape[0]
        let labels = try fixture.tensor("labels").data.map { Int32($0) }
        var gradients: [[String: [Float]]] = []
        for frozen in [[], ["cnn1", "cnn2"]] {
            let plan = try ExecutionPlan(graph: modelAGraph(), batchCapacity: batch, backend: .fixed(.im2col), threads: 2,
                                         frozenLayers: frozen)
            for name in ExecutionPlanTests.parameterNames {
                let values = try fixture.tensor(name).data
                try #require(plan.parameters.pointer(name)).update(from: values, count: values.count)
            }
            plan.parametersDidChange()
            plan.input.update(from: input.data, count: input.data.count)
            plan.isProfiling = true
            _ = labels.withUnsafeBufferPointer { plan.trainStep(batch: batch, labels: $0.baseAddress!) }
            var byName: [String: [Float]] = [:]
            for name in ExecutionPlanTests.parameterNames {
                let entry = try #require(plan.parameters.entry(name))
                byName[name] = Array(UnsafeBufferPointer(start: plan.parameters.gradientPointer(name), count: entry.count))
            }
            gradients.append(byName)
            if !frozen.isEmpty {
                // The convolutions' (and their ReLUs' and pools') backward passes never ran.
                for node in 1...6 { #expect(plan.backwardNanoseconds[node] == 0, "node \(node) ran backward") }
                #expect(plan.backwardNanoseconds[8] > 0)
            }
        }
        #expect(gradients[1]["fc1.weight"] == gradients[0]["fc1.weight"] && gradients[1]["fc1.bias"] == gradients[0]["fc1.bias"])
        #expect(gradients[1]["cnn1.weight"]?.allSatisfy { $0 == 0 } == true && gradients[1]["cnn2.bias"]?.allSatisfy { $0 == 0 } == true)
        #expect(gradients[0]["cnn1.weight"]?.contains { $0 != 0 } == true)
    }

    @Test func aFrozenLayerAfterALearningOneStillPassesGradientsBack() throws {
        let plan = try ExecutionPlan(graph: modelAGraph(), batchCapacity: 4, backend: .fixed(.im2col), threads: 1,
                                     frozenLayers: ["cnn2"])
        var generator = SeededGenerator(seed: 3)
        for index in 0..<(4 * 784) { plan.input[index] = Float.random(in: 0..<1, using: &generator) }
        let labels: [Int32] = [1, 2, 3, 4]
        _ = labels.withUnsafeBufferPointer { plan.trainStep(batch: 4, labels: $0.baseAddress!) }
        let gradient = plan.parameters.values(of: "cnn1.weight").indices.map { plan.parameters.gradientPointer("cnn1.weight")![$0] }
        #expect(gradient.contains { $0 != 0 }, "cnn1 learns through the frozen cnn2")
    }
}
