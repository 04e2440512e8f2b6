import CNNKernels
import CNNSpec
import Foundation

/// A network compiled for a batch capacity: every activation, gradient and workspace is allocated
/// here, once, so forward and backward passes never allocate.
///
/// Usage per step: fill `input` (and the labels), call `trainStep` (forward, loss, backward), let an
/// optimizer update `parameters`, then call `parametersDidChange()`.
public final class ExecutionPlan {
    public let graph: ModelGraph
    public let batchCapacity: Int
    public let parameters: ParameterStore
    public let pool: ThreadPool
    public let gemm: GEMM
    /// The log's line naming the kernel target the plan runs: `kernels: avx2 6×16 (the CPU's own)`.
    public var kernelsLine: String { "kernels: \(gemm.target) (\(KernelTarget.origin))" }
    /// The backend each convolution layer runs on, and why.
    public private(set) var backendSelections: [BackendSelection] = []
    /// Whether the plan fuses back-to-back layers (`train.fuse`), and the fusions it made, one line each.
    public let isFused: Bool
    public private(set) var fusions: [String]
    /// Fused ReLU → pool node → the convolution node that runs it in its epilogue (direct backend). The
    /// pool's layer then depends on that convolution both ways: the convolution's forward writes the pooled
    /// output, and its backward — which runs after the pool's — expands the pooled gradient of the images it
    /// kept in lanes, which the pool's backward therefore skips (`ReLUPoolingLayer.backward`); the memory plan
    /// keeps the pooled gradient alive until then (`MemoryPlan`).
    public private(set) var epilogueFusions: [Int: Int] = [:]
    /// Bytes of the activation buffers (layer outputs, the input batch included) and of the gradient
    /// buffers (scratch included), at the batch capacity, as the memory plan (`MemoryPlan`) pooled them.
    public private(set) var activationBytes = 0
    public private(set) var gradientBytes = 0
    /// Training or inference (`PlanPurpose`): an inference plan has no gradients and cannot run backward.
    public let purpose: PlanPurpose
    /// Whether buffers are reused by liveness (`MemoryPlan`); off only in tests comparing against it.
    let reusesBuffers: Bool
    private let fusion: PlanFusion
    private let memory: MemoryPlan
    /// When true, `forwardNanoseconds`/`backwardNanoseconds` accumulate per node.
    public var isProfiling = false
    public private(set) var forwardNanoseconds: [UInt64]
    public private(set) var backwardNanoseconds: [UInt64]

    private var layers: [(any ExecutableLayer)?]
    private var activations: [UnsafeMutablePointer<Float>]
    private var gradients: [UnsafeMutablePointer<Float>?]
    private var ownedBuffers: [AlignedBuffer<Float>] = []
    private var gradientSlots: [UnsafeMutablePointer<Float>] = []
    /// Per consumer node: (scratch it writes an input's gradient into, the input's gradient to add it to, floats per image).
    private var accumulations: [[(scratch: UnsafeMutablePointer<Float>, target: UnsafeMutablePointer<Float>, perImage: Int)]]
    /// A gradient zeroed before a layer's backward: the first write of a sum over several consumers.
    private struct ZeroFill {
        let pointer: UnsafeMutablePointer<Float>
        let perImage: Int
    }
    /// Per node: the gradients zeroed before its backward.
    private var zeroing: [[ZeroFill]]
    /// Batch norms folded into their convolutions (inference plans with fusion), refreshed by `parametersDidChange`.
    private var foldings: [BatchNormFolding] = []
    /// Stands in for the output gradient of inference plans' layers, which never run backward.
    private let placeholderGradient = AlignedBuffer<Float>(count: 1)

    /// The input batch buffer, [batchCapacity, C, H, W].
    public var input: UnsafeMutablePointer<Float> { activations[0] }
    /// The logits of the last forward pass, [batch, classes].
    public var logits: UnsafePointer<Float> { UnsafePointer(activations[activations.count - 1]) }
    /// The gradient with respect to the last node's output, which `loss` writes and `backward` reads;
    /// a caller with its own loss writes it here. Nil in inference plans.
    public var outputGradient: UnsafeMutablePointer<Float>? { gradients[gradients.count - 1] }
    /// The gradient with respect to node `index`'s output after `backward` (nil for the input node and in
    /// inference plans). Gradient buffers are reused once dead, so only a gradient no later-running layer's
    /// buffer shares is still there (the first layer's, say); build with `reuseBuffers: false` to read any.
    public func gradient(ofNode index: Int) -> UnsafePointer<Float>? { gradients[index].map { UnsafePointer($0) } }
    /// The output of node `index` after `forward` (an inference plan reuses dead activations' buffers:
    /// only the input and the logits are sure to be intact).
    public func activation(ofNode index: Int) -> UnsafePointer<Float> { UnsafePointer(activations[index]) }
    /// Number of output classes (the last node's features).
    public var classCount: Int { graph.outputShape.elementCount }

    /// Compiles `graph`. `backend` applies to every convolution unless `perLayerBackends` (by layer
    /// name) or the model spec names one; `auto` times the candidates on the layer's real shapes.
    /// `fuse` lets the plan fuse back-to-back layers (`PlanFusion`); results match the unfused plan.
    /// `frozenLayers` (`train.freeze`: layer names or name prefixes such as `layer1`) learn nothing, so
    /// the backward pass skips every layer with no learning layer at or before them — a frozen feature
    /// extractor costs no gradient work. Before anything is allocated, the plan's memory is estimated and a
    /// plan the machine cannot hold is refused (`MemoryError`, naming `batchKey` as what to lower).
    /// `purpose: .inference` (eval, predict, export) builds a forward-only plan: no gradients, activation
    /// buffers reused by liveness, batch norm folded into convolutions (with `fuse`); call
    /// `parametersDidChange()` after loading weights, as for every plan.
    public convenience init(graph: ModelGraph, batchCapacity: Int, backend: BackendRequest = .auto,
                            perLayerBackends: [String: BackendRequest] = [:], threads: Int = 0, seed: UInt64 = 0,
                            fuse: Bool = true, frozenLayers: [String] = [], batchKey: String = "train.batch_size",
                            purpose: PlanPurpose = .training, target: KernelTarget = .current) throws {
        try self.init(graph: graph, batchCapacity: batchCapacity, backend: backend, perLayerBackends: perLayerBackends,
                      threads: threads, seed: seed, fuse: fuse, frozenLayers: frozenLayers, batchKey: batchKey,
                      purpose: purpose, reuseBuffers: true, target: target)
    }

    /// The plan, with buffer reuse switchable (`reuseBuffers: false` gives every tensor its own buffer, as
    /// tests comparing against the memory plan need).
    init(graph: ModelGraph, batchCapacity: Int, backend: BackendRequest = .auto,
         perLayerBackends: [String: BackendRequest] = [:], threads: Int = 0, seed: UInt64 = 0,
         fuse: Bool = true, frozenLayers: [String] = [], batchKey: String = "train.batch_size",
         purpose: PlanPurpose = .training, reuseBuffers: Bool, target: KernelTarget = .current) throws {
        precondition(batchCapacity > 0 && !graph.nodes.isEmpty)  // invariant: callers validate the config
        let needsBackward = Self.nodesNeedingBackward(graph, frozen: frozenLayers)
        let fusion = PlanFusion(graph: graph, enabled: fuse, purpose: purpose)
        let memory = MemoryPlan(graph: graph, fusion: fusion, purpose: purpose, needsBackward: needsBackward, reuse: reuseBuffers)
        try MemoryEstimate(graph: graph, batchCapacity: batchCapacity, memory: memory, threads: threads, backend: backend,
                           perLayerBackends: perLayerBackends).check(batchKey: batchKey, model: graph.name)
        self.graph = graph
        self.batchCapacity = batchCapacity
        self.needsBackward = needsBackward
        self.fusion = fusion
        self.memory = memory
        self.purpose = purpose
        reusesBuffers = reuseBuffers
        isFused = fuse
        fusions = fusion.descriptions(graph)
        pool = ThreadPool(threadCount: threads)
        gemm = GEMM(pool: pool, target: target)
        parameters = ParameterStore(graph: graph)
        ParameterInitializer.initialize(parameters, seed: seed)
        let count = graph.nodes.count
        layers = Array(repeating: nil, count: count)
        forwardNanoseconds = Array(repeating: 0, count: count)
        backwardNanoseconds = Array(repeating: 0, count: count)
        accumulations = Array(repeating: [], count: count)
        zeroing = Array(repeating: [], count: count)
        activations = []
        gradients = []
        allocateBuffers()
        try makeFoldings()
        defer { AutoBackendTuning.shared?.save() }  // what `auto` timed, for the next start-up
        for index in 1..<count where !fusion.isFusedAway(index) {
            layers[index] = try makeLayer(index, backend: backend, perLayerBackends: perLayerBackends, seed: seed)
        }
        for (producer, relu) in fusion.reluIntoProducer {
            guard let layer = layers[producer] as? any OutputReLUFusing else {
                throw PlanError.unsupported(layer: graph.nodes[relu].name, reason: "\(graph.nodes[producer].op.kindName) cannot take a ReLU")
            }
            layer.fuseOutputReLU()
        }
        fuseIntoConvolutions()
    }

    /// Per node: whether its output's gradient is needed. Without frozen layers every node's is (callers
    /// may read any gradient); with them, only nodes that learn or read a node that needs it.
    private let needsBackward: [Bool]

    static func nodesNeedingBackward(_ graph: ModelGraph, frozen: [String]) -> [Bool] {
        guard !frozen.isEmpty else { return graph.nodes.indices.map { $0 > 0 } }
        var needs: [Bool] = []
        for node in graph.nodes {
            let isFrozen = LayerPattern.matchesAny(node.name, frozen)
            let learns = !isFrozen && node.op.parameters.contains { $0.isTrainable }
            needs.append(learns || node.inputs.contains { needs[$0] })
        }
        return needs
    }

    /// One buffer per slot of the memory plan, and every node's activation and gradient pointed into them.
    private func allocateBuffers() {
        func slots(_ sizes: [Int]) -> [UnsafeMutablePointer<Float>] {
            sizes.map { perImage in
                let owned = AlignedBuffer<Float>(count: batchCapacity * perImage)
                ownedBuffers.append(owned)
                return owned.pointer
            }
        }
        let activationSlots = slots(memory.activationSlotSizes)
        gradientSlots = slots(memory.gradientSlotSizes)
        activationBytes = MemoryEstimate.floatBytesCount * batchCapacity * memory.activationElementsPerImage
        gradientBytes = MemoryEstimate.floatBytesCount * batchCapacity * memory.gradientElementsPerImage
        activations = memory.activationSlot.map { activationSlots[$0] }
        gradients = memory.gradientSlot.map { $0.map { gradientSlots[$0] } }
        for (index, list) in memory.zeroBeforeBackward.enumerated() {
            zeroing[index] = list.map { ZeroFill(pointer: gradientSlots[$0.slot], perImage: $0.perImage) }
        }
    }

    /// Copies of each folded convolution's weight and bias, computed from the current parameters.
    private func makeFoldings() throws {
        for (batchNorm, convolution) in fusion.foldedBatchNorms.sorted(by: { $0.key < $1.key }) {
            guard let operation = graph.nodes[batchNorm].op as? BatchNormOperation else { continue }
            foldings.append(try BatchNormFolding(convolution: graph.nodes[convolution].name, batchNorm: graph.nodes[batchNorm].name,
                                                 eps: operation.eps, parameters: parameters))
        }
        for folding in foldings { folding.refresh() }
    }

    /// Where node `index`'s layer writes the gradient of each of its inputs, arranging accumulation when
    /// an input feeds several layers.
    private func inputGradientTargets(_ index: Int) -> [UnsafeMutablePointer<Float>?] {
        zip(memory.inputGradients[index], MemoryPlan.layerInputs(graph, fusion, index)).map { target, input in
            switch target {
            case .none: return nil
            case .direct(let slot), .scratch(let slot): return gradientSlots[slot]
            case .accumulate(let scratch, let target):
                accumulations[index].append((gradientSlots[scratch], gradientSlots[target], graph.nodes[input].outputShape.elementCount))
                return gradientSlots[scratch]
            }
        }
    }

    private func makeLayer(_ index: Int, backend: BackendRequest, perLayerBackends: [String: BackendRequest],
                           seed: UInt64) throws -> any ExecutableLayer {
        let node = graph.nodes[index]
        let outputGradient = gradients[index] ?? placeholderGradient.pointer
        if let relu = fusion.reluIntoPool[index], let pooling = node.op as? PoolingOperation {
            let source = graph.nodes[relu].inputs[0]
            let wiring = LayerWiring(
                inputs: [activations[source]], inputShapes: [graph.nodes[source].outputShape], output: activations[index],
                outputShape: node.outputShape, outputGradient: outputGradient, inputGradients: inputGradientTargets(index))
            return try pooling.makeFusedReLULayer(context(node, index, wiring, backend: backend, perLayerBackends: perLayerBackends, seed: seed))
        }
        guard let operation = node.op as? any ExecutableOperation else {
            throw PlanError.unsupported(layer: node.name, reason: "\(node.op.kindName) layers cannot run")
        }
        // A convolution with a batch norm folded into it writes the batch norm's output with folded weights.
        let folding = foldings.first { $0.convolution == node.name }
        let wiring = LayerWiring(
            inputs: node.inputs.map { activations[$0] },
            inputShapes: node.inputs.map { graph.nodes[$0].outputShape },
            output: activations[index],
            outputShape: node.outputShape,
            outputGradient: outputGradient,
            inputGradients: inputGradientTargets(index))
        let context = context(node, index, wiring, backend: backend, perLayerBackends: perLayerBackends, seed: seed,
                              tensorOverrides: folding?.tensorOverrides ?? [:])
        let layer = try operation.makeLayer(context)
        if let selection = context.backendSelection { backendSelections.append(selection) }
        return layer
    }

    /// ReLU → pool after a convolution that nothing else reads (a folded batch norm between them included):
    /// the pool's forward moves into the convolution's epilogue when its backend supports one
    /// (`ReLUPoolingLayer.fuseForward`).
    private func fuseIntoConvolutions() {
        var descriptions = fusions
        for (poolIndex, relu) in fusion.reluIntoPool.sorted(by: { $0.key < $1.key }) {
            let producer = graph.nodes[relu].inputs[0]
            let runner = fusion.computingNode(producer)
            guard producer > 0, consumers(of: producer) == 1, consumers(of: runner) == 1,
                  let fused = layers[poolIndex] as? ReLUPoolingLayer,
                  let convolution = layers[runner], fused.fuseForward(into: convolution) else { continue }
            epilogueFusions[poolIndex] = runner
            descriptions = descriptions.map {
                $0 == "\(graph.nodes[relu].name) → \(graph.nodes[poolIndex].name)"
                    ? "\(graph.nodes[runner].name) → \($0) (in the convolution's epilogue)" : $0
            }
        }
        fusions = descriptions
    }

    private func consumers(of index: Int) -> Int {
        graph.nodes.reduce(0) { $0 + $1.inputs.filter { $0 == index }.count }
    }

    private func context(_ node: GraphNode, _ index: Int, _ wiring: LayerWiring, backend: BackendRequest,
                         perLayerBackends: [String: BackendRequest], seed: UInt64,
                         tensorOverrides: [String: UnsafeMutablePointer<Float>] = [:]) -> LayerBuildContext {
        LayerBuildContext(name: node.name, index: index, wiring: wiring, batchCapacity: batchCapacity, pool: pool,
                          gemm: gemm, seed: seed, parameters: parameters, requestedBackend: perLayerBackends[node.name] ?? backend,
                          tensorOverrides: tensorOverrides)
    }

    /// True when node `index` runs inside a later node's fused layer (its timing is counted there).
    public func isFusedAway(_ index: Int) -> Bool { fusion.isFusedAway(index) }

    // MARK: - Running

    /// Runs every layer forward on the first `batch` images of `input`.
    public func forward(batch: Int, training: Bool) {
        for index in 1..<layers.count {
            guard let layer = layers[index] else { continue }
            if isProfiling {
                let start = DispatchTime.now().uptimeNanoseconds
                layer.forward(batch: batch, training: training)
                forwardNanoseconds[index] &+= DispatchTime.now().uptimeNanoseconds &- start
            } else {
                layer.forward(batch: batch, training: training)
            }
        }
    }

    /// Mean cross-entropy of the last forward pass against `labels`, writing the logits' gradient.
    /// `meanOver`: the count the mean divides by (default `batch`; a data-parallel shard's global batch).
    public func loss(batch: Int, labels: UnsafePointer<Int32>, computeGradient: Bool,
                     labelSmoothing: Float = 0, meanOver: Int? = nil) -> (loss: Float, correct: Int) {
        let last = activations.count - 1
        return SoftmaxCrossEntropy.forwardBackward(batch: batch, classes: classCount, logits: activations[last],
                                                   labels: labels, gradLogits: computeGradient ? gradients[last] : nil,
                                                   labelSmoothing: labelSmoothing, meanOver: meanOver)
    }

    /// Called after each node's backward step (index from the last node down to 1, skipped nodes included):
    /// from then on the parameter gradients of that node and every later one are final. A data-parallel run's
    /// `GradientReducer` starts reducing finished buckets here, while earlier layers' backward goes on.
    public var backwardObserver: ((Int) -> Void)?

    /// Back-propagates the logits' gradient (from `loss`) to every parameter gradient.
    public func backward(batch: Int) {
        precondition(purpose == .training, "an inference plan has no gradients")  // invariant: callers build training plans to train
        for index in stride(from: layers.count - 1, through: 1, by: -1) {
            defer { backwardObserver?(index) }
            for fill in zeroing[index] { Elementwise.fill(count: batch * fill.perImage, value: 0, fill.pointer) }
            guard let layer = layers[index], needsBackward[index] else { continue }
            let start = isProfiling ? DispatchTime.now().uptimeNanoseconds : 0
            layer.backward(batch: batch)
            for (scratch, target, perImage) in accumulations[index] {
                Elementwise.accumulate(count: batch * perImage, scratch, into: target)
            }
            if isProfiling { backwardNanoseconds[index] &+= DispatchTime.now().uptimeNanoseconds &- start }
        }
    }

    /// `train.label_smoothing`: the training loss's smoothing ε (evaluation reports plain cross-entropy,
    /// so validation and test losses compare across runs).
    public var labelSmoothing: Float = 0

    /// One training pass: forward in training mode, loss and its gradient, backward.
    /// `meanOver`: the count the loss averages over (default `batch`; a data-parallel shard's global batch).
    public func trainStep(batch: Int, labels: UnsafePointer<Int32>, meanOver: Int? = nil) -> (loss: Float, correct: Int) {
        forward(batch: batch, training: true)
        let result = loss(batch: batch, labels: labels, computeGradient: true, labelSmoothing: labelSmoothing, meanOver: meanOver)
        backward(batch: batch)
        return result
    }

    /// Evaluation pass: forward in inference mode and the loss, no gradients.
    public func evaluate(batch: Int, labels: UnsafePointer<Int32>) -> (loss: Float, correct: Int) {
        forward(batch: batch, training: false)
        return loss(batch: batch, labels: labels, computeGradient: false)
    }

    /// The random-number state of every layer that draws (dropout), by node name, for resume state.
    public var randomStates: [String: [UInt64]] {
        var states: [String: [UInt64]] = [:]
        for (index, layer) in layers.enumerated() {
            if let layer = layer as? any RandomizedLayer { states[graph.nodes[index].name] = layer.randomState }
        }
        return states
    }

    /// Continues every drawing layer's stream from `states`; the names of layers whose state is missing
    /// or invalid (the caller reports them).
    public func restoreRandomStates(_ states: [String: [UInt64]]) -> [String] {
        var problems: [String] = []
        for (index, layer) in layers.enumerated() {
            guard let layer = layer as? any RandomizedLayer else { continue }
            let name = graph.nodes[index].name
            if let state = states[name], layer.restoreRandomState(state) { continue }
            problems.append(name)
        }
        return problems
    }

    /// Tells layers that cache weight-derived data (the Toeplitz backend, folded batch norms) to rebuild it.
    public func parametersDidChange() {
        // Indexed like `forward`: `for case let layer? in layers` allocates once per layer in debug builds,
        // where the zero-allocation test of a training step runs.
        for index in foldings.indices { foldings[index].refresh() }
        for index in layers.indices { layers[index]?.parametersDidChange() }
    }

    /// Clears the profiling counters.
    public func resetProfile() {
        for index in forwardNanoseconds.indices {
            forwardNanoseconds[index] = 0
            backwardNanoseconds[index] = 0
        }
    }
}
