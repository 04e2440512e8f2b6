import CNNKernels
@testable import CNNLayers
import CNNSpec
import PyTorchFixtures
import Testing
@testable import CNNTrain

/// The memory plan (`MemoryPlan`): buffers shared by liveness give bit-identical results to a plan with
/// one buffer per tensor, in training (gradients reused in the backward pass) and in inference
/// (activations reused, element-wise layers in place), fused and unfused; batch norm folded into its
/// convolution in inference plans matches the unfolded plan within 1e-5; the planner's figures are what
/// the plan allocates. One thread per plan: test cases run in parallel, and spinning pools beyond the
/// machine's cores slow each other down by orders of magnitude.
@Suite struct MemoryPlanTests {
    /// Seed models and branchy zoo models (residual adds, inverted residuals, concat, a squeeze-and-
    /// excitation gate), at small inputs so a debug build runs them in seconds.
    static let models: [(file: String, input: TensorShape?)] = [
        ("modelA.yaml", nil), ("modelC.yaml", nil), ("dropout-cnn.yaml", nil),
        ("resnet18-cifar.yaml", .image(channels: 3, height: 16, width: 16)),
        ("mobilenet_v2.yaml", .image(channels: 3, height: 32, width: 32)),
        ("inception-module.yaml", nil),
        ("efficientnet_b0.yaml", .image(channels: 3, height: 32, width: 32)),
        ("densenet121.yaml", .image(channels: 3, height: 32, width: 32)),
    ]

    static func graph(_ file: String, _ input: TensorShape?) throws -> ModelGraph {
        try ModelSpecLoader.load(path: TrainingTestSupport.repository.appendingPathComponent("models/" + file).path,
                                 catalog: .standard, inputOverride: input)
    }

    /// Deterministic values in [-1, 1) (a fixed LCG).
    static func values(_ count: Int, seed: UInt32) -> [Float] {
        var state = seed
        return (0..<count).map { _ in
            state = state &* 1_664_525 &+ 1_013_904_223
            return Float(state >> 8) / Float(1 << 23) - 1
        }
    }

    /// Random batch-norm statistics and affine parameters (the initial ones fold into nothing).
    static func randomizeBatchNorms(_ parameters: ParameterStore) {
        var seed: UInt32 = 99
        for entry in parameters.entries where !entry.isInteger {
            let suffix = entry.name.split(separator: ".").last ?? ""
            guard ["running_mean", "running_var"].contains(suffix) || entry.shape.count == 1 else { continue }
            guard let pointer = parameters.pointer(entry.name) else { continue }
            seed &+= 1
            let values = Self.values(entry.count, seed: seed)
            for index in 0..<entry.count {
                pointer[index] = suffix == "running_var" ? 0.5 + abs(values[index]) : (suffix == "weight" ? 1 + 0.5 * values[index] : 0.2 * values[index])
            }
        }
    }

    static func array(_ pointer: UnsafePointer<Float>, _ count: Int) -> [Float] { Array(UnsafeBufferPointer(start: pointer, count: count)) }

    /// Where two arrays first differ bit for bit ("" when equal): compared outside `#expect`, whose failure report
    /// of two million-element arrays would take hours.
    static func firstDifference(_ a: [Float], _ b: [Float]) -> String {
        guard a.count == b.count else { return "\(a.count) vs \(b.count) values" }
        guard let index = a.indices.first(where: { a[$0].bitPattern != b[$0].bitPattern }) else { return "" }
        return "at \(index): \(a[index]) vs \(b[index])"
    }

    /// The tensor holding trainable offset `difference` ("at N: …").
    static func tensorName(_ parameters: ParameterStore, _ difference: String) -> String {
        guard let offset = Int(difference.dropFirst(3).prefix { $0 != ":" }) else { return "" }
        return parameters.entries.first { $0.isTrainable && $0.offset <= offset && offset < $0.offset + $0.count }?.name ?? ""
    }

    @Test(arguments: models.map(\.file), [true, false])
    func trainingWithReusedGradientsIsBitIdentical(file: String, fuse: Bool) throws {
        let graph = try Self.graph(file, Self.models.first { $0.file == file }?.input)
        let batch = 2
        let plans = try [true, false].map { reuse in
            try ExecutionPlan(graph: graph, batchCapacity: batch, backend: .fixed(.im2col), threads: 1, seed: 3, fuse: fuse,
                              reuseBuffers: reuse)
        }
        #expect(plans[0].gradientBytes < plans[1].gradientBytes, "\(file): gradients reused")
        #expect(plans[0].activationBytes == plans[1].activationBytes, "\(file): training keeps every activation")
        let inputCount = batch * graph.inputShape.elementCount
        let input = Self.values(inputCount, seed: 7)
        let labels = (0..<batch).map { Int32($0 % plans[0].classCount) }
        let optimizers = plans.map {
            Optimizer(settings: .sgd(momentum: 0.9, dampening: 0, nesterov: false, weightDecay: 0), parameters: $0.parameters)
        }
        for step in 0..<2 {
            var losses: [Float] = []
            for plan in plans {
                plan.input.update(from: input, count: inputCount)
                losses.append(labels.withUnsafeBufferPointer { plan.trainStep(batch: batch, labels: $0.baseAddress!).loss })
            }
            #expect(losses[0].bitPattern == losses[1].bitPattern, "\(file) step \(step) loss")
            let logits = plans.map { Self.array($0.logits, batch * $0.classCount) }
            #expect(Self.firstDifference(logits[0], logits[1]) == "", "\(file) step \(step) logits")
            let gradients = plans.map { Self.array($0.parameters.gradients.pointer, $0.parameters.trainableCount) }
            let difference = Self.firstDifference(gradients[0], gradients[1])
            #expect(difference == "", "\(file) step \(step) parameter gradients \(difference) (\(Self.tensorName(plans[0].parameters, difference)))")
            #expect(gradients[0].contains { $0 != 0 } && losses[0].isFinite, "\(file) step \(step) learns")
            for (plan, optimizer) in zip(plans, optimizers) {
                optimizer.step(learningRate: 0.01)
                plan.parametersDidChange()
            }
        }
    }

    @Test(arguments: models.map(\.file), [true, false])
    func inferenceWithReusedActivationsIsBitIdentical(file: String, fuse: Bool) throws {
        let graph = try Self.graph(file, Self.models.first { $0.file == file }?.input)
        let batch = 2
        let plans = try [true, false].map { reuse in
            try ExecutionPlan(graph: graph, batchCapacity: batch, backend: .fixed(.im2col), threads: 1, seed: 3, fuse: fuse,
                              purpose: .inference, reuseBuffers: reuse)
        }
        #expect(plans[0].activationBytes < plans[1].activationBytes, "\(file): activations reused")
        #expect(plans.allSatisfy { $0.gradientBytes == 0 && $0.outputGradient == nil }, "\(file): no gradients")
        let inputCount = batch * graph.inputShape.elementCount
        let input = Self.values(inputCount, seed: 11)
        for plan in plans {
            Self.randomizeBatchNorms(plan.parameters)
            plan.parametersDidChange()
            plan.input.update(from: input, count: inputCount)
            plan.forward(batch: batch, training: false)
        }
        let logits = plans.map { Self.array($0.logits, batch * $0.classCount) }
        #expect(Self.firstDifference(logits[0], logits[1]) == "", "\(file) logits")
        // The plans must outlive the read of their input: an optimised build may free them right after the last
        // use of `plans`, which the pointer `plans[0].input` is, before the buffer is read.
        let inputDifference = withExtendedLifetime(plans) { Self.firstDifference(Self.array(plans[0].input, inputCount), input) }
        #expect(inputDifference == "", "\(file): the input batch is kept")
    }

    /// Batch norm folded into the convolution (inference, fusion on) against the unfused inference plan
    /// and the training plan's evaluation mode, with random statistics; after a parameter change too.
    @Test(arguments: ["resnet18-cifar.yaml", "mobilenet_v2.yaml", "efficientnet_b0.yaml"])
    func foldedBatchNormMatchesUnfolded(file: String) throws {
        let graph = try Self.graph(file, Self.models.first { $0.file == file }?.input)
        let batch = 3
        let folded = try ExecutionPlan(graph: graph, batchCapacity: batch, backend: .fixed(.im2col), threads: 1, seed: 3,
                                       purpose: .inference)
        let unfolded = try ExecutionPlan(graph: graph, batchCapacity: batch, backend: .fixed(.im2col), threads: 1, seed: 3,
                                         fuse: false, purpose: .inference)
        let training = try ExecutionPlan(graph: graph, batchCapacity: batch, backend: .fixed(.im2col), threads: 1, seed: 3)
        let batchNorms = graph.nodes.filter { $0.op is BatchNormOperation }.count
        #expect(folded.fusions.filter { $0.contains(" folded into ") }.count == batchNorms, "\(file): every batch norm follows a conv")
        #expect(!training.fusions.contains { $0.contains(" folded into ") })
        let inputCount = batch * graph.inputShape.elementCount
        let input = Self.values(inputCount, seed: 5)
        for round in 0..<2 {
            for plan in [folded, unfolded, training] {
                if round == 0 { Self.randomizeBatchNorms(plan.parameters) } else {
                    // A changed weight (an optimizer step, a loaded checkpoint) reaches the folded copy.
                    let weights = plan.parameters.values.pointer
                    for index in 0..<plan.parameters.trainableCount { weights[index] *= 1.25 }
                }
                plan.parametersDidChange()
                plan.input.update(from: input, count: inputCount)
                plan.forward(batch: batch, training: false)
            }
            let logits = [folded, unfolded, training].map { Self.array($0.logits, batch * $0.classCount) }
            // Relative to the logits' scale: rounding differs per layer (w·s vs s·(conv − μ)) and a deep
            // net carries it to every logit, so a logit near zero is off by the scale's rounding, not its own.
            let scale = logits[1].map(abs).max() ?? 0
            let worst = zip(logits[0], logits[1]).map { abs($0 - $1) }.max() ?? 0
            #expect(worst <= 1e-5 * scale, "\(file) round \(round): folded vs unfolded off by \(worst) at logit scale \(scale)")
            #expect(Self.firstDifference(logits[1], logits[2]) == "", "\(file) round \(round): the training plan's eval mode is not folded")
            let values = [folded, training].map { Self.array($0.parameters.values.pointer, $0.parameters.trainableCount) }
            #expect(Self.firstDifference(values[0], values[1]) == "", "\(file): folding leaves the parameters alone")
        }
    }

    /// A chain needs the input, two activations and nothing else in inference; training keeps every
    /// activation and reuses gradients; the planner's per-image figures are what plans allocate.
    @Test func plannedFiguresAreWhatPlansAllocate() throws {
        let graph = try Self.graph("modelA.yaml", nil)
        let memory = MemoryPlan(graph: graph, fusion: PlanFusion(graph: graph, enabled: false, purpose: .inference),
                                purpose: .inference, needsBackward: ExecutionPlan.nodesNeedingBackward(graph, frozen: []), reuse: true)
        #expect(memory.activationSlotSizes.count == 3, "input + two activations: \(memory.activationSlotSizes)")
        #expect(memory.inPlace == [2, 5], "relu1 and relu2 overwrite their convolutions' outputs")
        for file in ["modelA.yaml", "resnet18-cifar.yaml"] {
            let graph = try Self.graph(file, nil)
            let planned = PlannedActivationMemory(graph: graph)
            let batch = 4
            let training = try ExecutionPlan(graph: graph, batchCapacity: batch, backend: .fixed(.im2col), threads: 1)
            let inference = try ExecutionPlan(graph: graph, batchCapacity: batch, backend: .fixed(.im2col), threads: 1,
                                              purpose: .inference)
            #expect(planned.trainingBytesPerImage * batch == training.activationBytes + training.gradientBytes, "\(file)")
            #expect(planned.trainingActivationBytesPerImage * batch == training.activationBytes, "\(file)")
            #expect(planned.inferenceBytesPerImage * batch == inference.activationBytes, "\(file)")
            let allOutputs = graph.nodes.reduce(0) { $0 + $1.outputShape.elementCount } * 4
            #expect(planned.inferenceBytesPerImage * 2 < allOutputs, "\(file): inference keeps a fraction of the outputs")
            #expect(planned.trainingBytesPerImage < 2 * allOutputs, "\(file): gradients reused")
            let report = ShapeReport(graph: graph, file: file, plannedMemory: .init(
                trainingBytesPerImage: planned.trainingBytesPerImage, inferenceBytesPerImage: planned.inferenceBytesPerImage))
            #expect(report.render(.table).contains("planned activation memory per image: training "))
            #expect(report.render(.json).contains("\"planned_inference_activation_bytes\": \(planned.inferenceBytesPerImage)"))
        }
    }

    /// The memory check counts the planned buffers: an inference plan needs less than a training plan.
    @Test func memoryEstimateUsesThePlan() throws {
        let graph = try Self.graph("resnet18-cifar.yaml", nil)
        let planned = PlannedActivationMemory(graph: graph)
        let unplanned = MemoryEstimate(graph: graph, batchCapacity: 64)
        let training = MemoryEstimate(graph: graph, batchCapacity: 64, plannedElementsPerImage: Double(planned.trainingBytesPerImage / 4))
        let inference = MemoryEstimate(graph: graph, batchCapacity: 64, plannedElementsPerImage: Double(planned.inferenceBytesPerImage / 4))
        #expect(inference.activationBytes < training.activationBytes && training.activationBytes < unplanned.activationBytes)
    }

    /// The estimate counts what Winograd keeps per layer whatever the batch (U and U', 16 positions × Cout·Cin
    /// each, rows rounded to 8): for ResNet-18-CIFAR's 3×3 stride-1 layers (the stem and 13 more) when winograd
    /// is asked for, nothing for the stride-2 and 1×1 layers it refuses; with auto at least as much (any
    /// backend may win the timing).
    @Test func memoryEstimateCountsWinogradsTransformedWeights() throws {
        let graph = try Self.graph("resnet18-cifar.yaml", nil)
        let convolutions = graph.nodes.compactMap { $0.op as? Conv2dOperation }
        let expected = convolutions.reduce(0.0) { total, conv in
            let eligible = conv.kernel == Pair2D(square: 3) && conv.stride == Pair2D(square: 1)
            let cin = Double(conv.inChannels), cout = Double(conv.outChannels)
            return total + (eligible ? 16 * ((cout + 8) * cin + (cin + 8) * cout) : 0)
        }
        #expect(convolutions.filter { $0.kernel == Pair2D(square: 3) && $0.stride == Pair2D(square: 1) }.count == 14)
        let winograd = MemoryEstimate(graph: graph, batchCapacity: 64, threads: 2, backend: .fixed(.winograd))
        #expect(winograd.fixedWorkspaceBytes == 4 * expected)
        let auto = MemoryEstimate(graph: graph, batchCapacity: 64, threads: 2)
        #expect(auto.workspaceBytes >= winograd.workspaceBytes)
        let fiveByFive = try ModelSpecLoader.load(yaml: "input: [4, 8, 8]\nlayers:\n  - conv: {out: 4, kernel: 5}\n",
                                                  catalog: .standard)
        #expect(MemoryEstimate(graph: fiveByFive, batchCapacity: 8, threads: 2, backend: .fixed(.winograd)).workspaceBytes == 0)
    }

    /// Toeplitz's matrices (39 MB and 79 MB for Model A's two layers, kept whatever the batch) are in the
    /// estimate when toeplitz is asked for, and in auto's, which may pick it.
    @Test func memoryEstimateCountsToeplitzMatrices() throws {
        let graph = try Self.graph("modelA.yaml", nil)
        let first: Int = 16 * 28 * 28 * (28 * 28), second: Int = 32 * 14 * 14 * (16 * 14 * 14)
        let matrices = 4 * Double(first + second)
        let toeplitz = MemoryEstimate(graph: graph, batchCapacity: 100, threads: 2, backend: .fixed(.toeplitz))
        #expect(toeplitz.fixedWorkspaceBytes == matrices)
        #expect(MemoryEstimate(graph: graph, batchCapacity: 100, threads: 2).workspaceBytes >= toeplitz.workspaceBytes)
        let direct = MemoryEstimate(graph: graph, batchCapacity: 100, threads: 2, backend: .fixed(.direct))
        #expect(direct.fixedWorkspaceBytes < matrices / 1000, "direct keeps only packed weights")
    }
}
