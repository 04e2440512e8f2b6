import CNNKernels
@testable import CNNLayers
import CNNSpec
import PyTorchFixtures
import Testing
@testable import CNNTrain

/// Fused and unfused plans of the same network (same seed, same data) agree: logits, loss, every
/// parameter gradient and the weights after a few SGD-with-momentum steps, within 1e-5 relative.
@Suite struct PlanFusionTests {
    /// Residual blocks (conv → bn → relu, add → relu in place), an overlapping padded max-pool and a
    /// 3×3 stride-2 average pool after ReLUs (the general fused paths), linear → relu.
    static let blocksSpec = """
        name: fusion-blocks
        input: [3, 12, 12]
        blocks:
          basic:
            args: {out: ~}
            layers:
              - conv: {out: $out, kernel: 3, padding: 1, bias: false, name: conv1}
              - batchnorm2d: {name: bn1}
              - relu: {name: relu1}
              - conv: {out: $out, kernel: 3, padding: 1, bias: false, name: conv2}
              - batchnorm2d: {name: bn2}
              - add: {from: [bn2, input], name: add}
              - relu: {name: relu2}
        layers:
          - conv: {out: 8, kernel: 3, padding: 1, name: stem}
          - relu
          - maxpool: {kernel: 3, stride: 1, padding: 1}
          - basic: {out: 8, name: block1}
          - basic: {out: 8, name: block2}
          - conv: {out: 8, kernel: 3, padding: 1, name: head}
          - relu
          - avgpool: {kernel: 3, stride: 2, padding: 1}
          - flatten
          - linear: {out: 16, name: fc1}
          - relu
          - linear: {out: 10, name: fc2}
        """

    /// Odd convolution outputs under 2×2 pools (15×15 → 7×7, 7×7 → 3×3): the last row and column are in no
    /// window, so their gradient is 0 — in lanes, the part of the output gradient no expansion writes.
    static let oddSpec = """
        name: fusion-odd
        input: [2, 15, 15]
        layers:
          - conv: {out: 6, kernel: 3, padding: 1, name: c1}
          - relu
          - maxpool: {kernel: 2}
          - conv: {out: 5, kernel: 3, padding: 1, name: c2}
          - relu
          - avgpool: {kernel: 2}
          - flatten
          - linear: {out: 10, name: fc}
        """

    static func graph(_ model: String) throws -> ModelGraph {
        if model == "blocks" { return try ModelSpecLoader.load(yaml: blocksSpec, catalog: .standard) }
        if model == "odd" { return try ModelSpecLoader.load(yaml: oddSpec, catalog: .standard) }
        return try ModelSpecLoader.load(path: TrainingTestSupport.repository.appendingPathComponent("models/" + model).path,
                                        catalog: .standard)
    }

    @Test func directConvolutionsTakeTheEpilogue() throws {
        let graph = try Self.graph("modelA.yaml")
        let plan = try ExecutionPlan(graph: graph, batchCapacity: 2, backend: .fixed(.direct), threads: 1, fuse: true)
        #expect(plan.fusions == ["cnn1 → relu1 → maxpool1 (in the convolution's epilogue)",
                                 "cnn2 → relu2 → maxpool2 (in the convolution's epilogue)"])
        let index = { (name: String) in graph.nodes.firstIndex { $0.name == name } }
        #expect(plan.epilogueFusions == [index("maxpool1"): index("cnn1"), index("maxpool2"): index("cnn2")])
        let im2col = try ExecutionPlan(graph: graph, batchCapacity: 2, backend: .fixed(.im2col), threads: 1, fuse: true)
        #expect(im2col.epilogueFusions.isEmpty, "only the direct backend has an epilogue")
    }

    @Test func fusionFindsThePatterns() throws {
        let modelA = PlanFusion(graph: try Self.graph("modelA.yaml"), enabled: true)
        #expect(modelA.descriptions(try Self.graph("modelA.yaml")) == ["relu1 → maxpool1", "relu2 → maxpool2"])
        let blocks = try Self.graph("blocks")
        let lines = PlanFusion(graph: blocks, enabled: true).descriptions(blocks)
        #expect(lines.contains("block1.relu1 in block1.bn1"))
        #expect(lines.contains("block2.relu2 in block2.add"))
        #expect(lines.contains("block2.add gradient shared with block2.bn2"))
        #expect(lines.contains { $0.hasSuffix("→ maxpool1") } && lines.contains { $0.hasSuffix("→ avgpool1") })
        #expect(PlanFusion(graph: blocks, enabled: false).descriptions(blocks).isEmpty)
    }

    /// Direct convolutions take the ReLU → pool into their epilogue; im2col ones leave it to the fused pool layer.
    @Test(arguments: ["modelA.yaml", "modelB.yaml", "modelC.yaml", "lenet5.yaml", "dropout-cnn.yaml", "blocks"],
          [ConvolutionBackendKind.direct, .im2col])
    func fusedMatchesUnfused(model: String, backend: ConvolutionBackendKind) throws {
        try checkFusedMatchesUnfused(model: model, backend: backend, batch: 6)
    }

    /// At 36 images the direct backend runs two blocks of 16 in SIMD lanes (max and average pooling in the
    /// lanes epilogue, their backward expanded by the convolution from the pooled gradient, and padding
    /// taps skipped) and 4 images on the wide grid.
    /// The GEMM-backed plans on every kernel target (the other targets' tiles and panels, run on this host).
    @Test(arguments: ["modelB.yaml", "blocks"], KernelTarget.allCases)
    func fusedMatchesUnfusedOnEveryTarget(model: String, target: KernelTarget) throws {
        try checkFusedMatchesUnfused(graph: try Self.graph(model), model: model, backend: .im2col, batch: 5, target: target)
    }

    @Test(arguments: ["modelA.yaml", "modelB.yaml", "modelC.yaml", "lenet5.yaml", "odd"])
    func fusedMatchesUnfusedWithImagesInLanes(model: String) throws {
        try checkFusedMatchesUnfused(model: model, backend: .direct, batch: 36)
    }

    /// Zoo graphs at small inputs: ReLUs in batch norms and residual adds (ResNet), batch norm → ReLU6 and
    /// residual adds without a ReLU (MobileNetV2), SiLU and squeeze-and-excitation (EfficientNet), concat
    /// with batch norm → ReLU before each convolution and the input read by several layers (DenseNet).
    @Test(arguments: ["resnet18-cifar.yaml", "mobilenet_v2.yaml", "efficientnet_b0.yaml", "densenet121.yaml"])
    func fusedMatchesUnfusedOnZooModels(model: String) throws {
        let input = MemoryPlanTests.models.first { $0.file == model }?.input
        let graph = try MemoryPlanTests.graph(model, input)
        try checkFusedMatchesUnfused(graph: graph, model: model, backend: .im2col, batch: 4, learningRate: 0.001,
                                     fewerActivations: model == "resnet18-cifar.yaml" || model == "densenet121.yaml")
        let fusion = PlanFusion(graph: graph, enabled: true)
        if model == "resnet18-cifar.yaml" {
            #expect(fusion.reluIntoProducer.count == 16, "every ReLU but the one before the pool")
            #expect(fusion.sharedAddGradients.count == 8)
        }
        if model == "densenet121.yaml" { #expect(!fusion.reluIntoProducer.isEmpty) }
    }

    /// A ReLU taken by the batch norm before it shares that batch norm's buffers; one add reading the same
    /// input twice keeps its own gradient (summed), and an add after an unfused ReLU still shares.
    @Test func addOfOneInputTwiceAndUnfusedReLUs() throws {
        let spec = """
            name: fusion-edges
            input: [2, 6, 6]
            layers:
              - conv: {out: 4, kernel: 3, padding: 1, name: conv1}
              - batchnorm2d: {name: bn1}
              - relu: {name: relu1}
              - add: {from: [relu1, relu1], name: twice}
              - relu: {name: relu2}
              - conv: {out: 4, kernel: 3, padding: 1, name: conv2}
              - batchnorm2d: {name: bn2}
              - add: {from: [bn2, relu2, relu1], name: three}
              - flatten
              - linear: {out: 5, name: fc}
            """
        let graph = try ModelSpecLoader.load(yaml: spec, catalog: .standard)
        let fusion = PlanFusion(graph: graph, enabled: true)
        let lines = fusion.descriptions(graph)
        #expect(lines.contains("relu1 in bn1") && lines.contains("relu2 in twice"))
        #expect(!lines.contains { $0.hasPrefix("twice gradient shared") })
        #expect(lines.contains("three gradient shared with bn2"))
        try checkFusedMatchesUnfused(graph: graph, model: "fusion-edges", backend: .im2col, batch: 3)
        try checkFusedMatchesUnfused(graph: graph, model: "fusion-edges", backend: .direct, batch: 3)
    }

    func checkFusedMatchesUnfused(model: String, backend: ConvolutionBackendKind, batch: Int) throws {
        try checkFusedMatchesUnfused(graph: try Self.graph(model), model: model, backend: backend, batch: batch)
    }

    func checkFusedMatchesUnfused(graph: ModelGraph, model: String, backend: ConvolutionBackendKind, batch: Int,
                                  learningRate: Float = 0.05, fewerActivations: Bool = true,
                                  target: KernelTarget = .current) throws {
        let plans = try [true, false].map { fuse in
            try ExecutionPlan(graph: graph, batchCapacity: batch, backend: .fixed(backend), threads: 2, seed: 3, fuse: fuse,
                              target: target)
        }
        #expect(plans[0].activationBytes < plans[1].activationBytes || model == "dropout-cnn.yaml" || !fewerActivations)
        Self.checkPlansAgree(plans, graph: graph, batch: batch, label: model, learningRate: learningRate, tolerance: 1e-5)
    }

    /// Two plans of `graph` (same seed) fed the same data agree within `tolerance` relative: logits, loss and
    /// every parameter gradient at each of 3 SGD-with-momentum steps, and the weights after them.
    static func checkPlansAgree(_ plans: [ExecutionPlan], graph: ModelGraph, batch: Int, label: String,
                                learningRate: Float, tolerance: Float) {
        let inputCount = batch * graph.nodes[0].outputShape.elementCount
        // Deterministic values in [-1, 1) (a fixed LCG; any spread of signs exercises the ReLU masks).
        var state: UInt32 = 12_345
        let input = (0..<inputCount).map { _ -> Float in
            state = state &* 1_664_525 &+ 1_013_904_223
            return Float(state >> 8) / Float(1 << 23) - 1
        }
        let labels = (0..<batch).map { Int32($0 % plans[0].classCount) }
        let optimizers = plans.map {
            Optimizer(settings: .sgd(momentum: 0.9, dampening: 0, nesterov: false, weightDecay: 0), parameters: $0.parameters)
        }
        for step in 0..<3 {
            var losses: [Float] = []
            for plan in plans {
                plan.input.update(from: input, count: inputCount)
                losses.append(labels.withUnsafeBufferPointer { plan.trainStep(batch: batch, labels: $0.baseAddress!).loss })
            }
            let logits = plans.map { Array(UnsafeBufferPointer(start: $0.logits, count: batch * $0.classCount)) }
            #expect(maxRelativeError(logits[0], logits[1], floor: 1e-3) <= tolerance, "\(label) step \(step) logits")
            #expect(maxRelativeError([losses[0]], [losses[1]]) <= tolerance, "\(label) step \(step) loss")
            let gradients = plans.map { Array(UnsafeBufferPointer(start: $0.parameters.gradients.pointer, count: $0.parameters.trainableCount)) }
            #expect(maxRelativeError(gradients[0], gradients[1], floor: 1e-3) <= tolerance, "\(label) step \(step) gradients")
            for (plan, optimizer) in zip(plans, optimizers) {
                optimizer.step(learningRate: learningRate)
                plan.parametersDidChange()
            }
        }
        let weights = plans.map { Array(UnsafeBufferPointer(start: $0.parameters.values.pointer, count: $0.parameters.trainableCount)) }
        #expect(maxRelativeError(weights[0], weights[1], floor: 1e-3) <= tolerance, "\(label) weights after 3 steps")
    }

    /// Each kind states in its own file what a ReLU after it may do (`outputReLUFusion`): a kind stating
    /// `.applied` builds a layer that applies it (`OutputReLUFusing`), and the fusion pass follows the
    /// statements — a ReLU after conv/linear in place, after batch norm and add applied by them, after
    /// anything else on its own buffers.
    @Test func fusionFollowsEachKindsStatement() throws {
        let graph = try ModelSpecLoader.load(yaml: AllKindsGradientTests.allKinds, catalog: .standard)
        let pool = ThreadPool(threadCount: 1), gemm = GEMM(pool: pool)
        let parameters = ParameterStore(graph: graph)
        let buffers = LayerMemoryTests.Buffers(graph, batch: 2)
        var applied: Set<String> = []
        for (index, node) in graph.nodes.enumerated() where index > 0 {
            let operation = try #require(node.op as? any ExecutableOperation)
            guard operation.outputReLUFusion == .applied else { continue }
            let context = LayerBuildContext(name: node.name, index: index, wiring: buffers.wiring(graph, index, inputs: node.inputs),
                                            batchCapacity: 2, pool: pool, gemm: gemm, seed: 1, parameters: parameters,
                                            requestedBackend: .fixed(.direct))
            #expect(try operation.makeLayer(context) is any OutputReLUFusing, "\(node.op.kindName) states .applied")
            applied.insert(node.op.kindName)
        }
        #expect(applied == ["batchnorm2d", "batchnorm1d", "add"])
        let chain = try ModelSpecLoader.load(yaml: """
            input: [2, 6, 6]
            layers:
              - conv: {out: 4, kernel: 3, name: c}
              - relu: {name: r1}
              - batchnorm2d: {name: bn}
              - relu: {name: r2}
              - local_response_norm: {size: 3}
              - relu: {name: r3}
              - flatten
              - linear: {out: 4, name: fc}
              - relu: {name: r4}
            """, catalog: .standard)
        let fusion = PlanFusion(graph: chain, enabled: true)
        let named = { (name: String) in try #require(chain.nodes.firstIndex { $0.name == name }) }
        #expect(fusion.inPlaceReLUs == [try named("r1"), try named("r4")])
        #expect(fusion.reluIntoProducer == [try named("bn"): try named("r2")])
    }
}
