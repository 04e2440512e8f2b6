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
    /// The backend each convolution layer runs on, and why.
    public private(set) var backendSelections: [BackendSelection] = []
    /// Whether the plan fuses back-to-back layers (`train.fuse`), and the fusions it made, one line each.
    public let isFused: Bool
    public private(set) var fusions: [String]
    /// Bytes of the activation buffers (layer outputs, the input batch included) and of the gradient
    /// buffers, at the batch capacity, after fusion and in-place ReLUs.
    public private(set) var activationBytes = 0
    public private(set) var gradientBytes = 0
    private let fusion: PlanFusion
    /// When true, `forwardNanoseconds`/`backwardNanoseconds` accumulate per node.
    public var isProfiling = false
    public private(set) var forwardNanoseconds: [UInt64]
    public private(set) var backwardNanoseconds: [UInt64]

    private var layers: [(any ExecutableLayer)?]
    private var activations: [UnsafeMutablePointer<Float>]
    private var gradients: [UnsafeMutablePointer<Float>?]
    private var ownedBuffers: [AlignedBuffer<Float>] = []
    /// Per consumer node: (scratch it writes an input's gradient into, the input's gradient to add it to, floats per image).
    private var accumulations: [[(scratch: UnsafeMutablePointer<Float>, target: UnsafeMutablePointer<Float>, perImage: Int)]]
    private var multiConsumerGradients: [(pointer: UnsafeMutablePointer<Float>, perImage: Int)] = []

    /// The input batch buffer, [batchCapacity, C, H, W].
    public var input: UnsafeMutablePointer<Float> { activations[0] }
    /// The logits of the last forward pass, [batch, classes].
    public var logits: UnsafePointer<Float> { UnsafePointer(activations[activations.count - 1]) }
    /// The gradient with respect to the last node's output, which `loss` writes and `backward` reads;
    /// a caller with its own loss writes it here.
    public var outputGradient: UnsafeMutablePointer<Float>? { gradients[gradients.count - 1] }
    /// The gradient with respect to node `index`'s output after `backward` (nil for the input node).
    public func gradient(ofNode index: Int) -> UnsafePointer<Float>? { gradients[index].map { UnsafePointer($0) } }
    /// The output of node `index` after `forward`.
    public func activation(ofNode index: Int) -> UnsafePointer<Float> { UnsafePointer(activations[index]) }
    /// Number of output classes (the last node's features).
    public var classCount: Int { graph.outputShape.elementCount }

    /// Compiles `graph`. `backend` applies to every convolution unless `perLayerBackends` (by layer
    /// name) or the model spec names one; `auto` times the candidates on the layer's real shapes.
    /// `fuse` lets the plan fuse back-to-back layers (`PlanFusion`); results match the unfused plan.
    /// `frozenLayers` (`train.freeze`: layer names or name prefixes such as `layer1`) learn nothing, so
    /// the backward pass skips every layer with no learning layer at or before it — a frozen feature
    /// extractor costs no gradient work. Before anything is allocated, the plan's memory is estimated and a
    /// plan the machine cannot hold is refused (`MemoryError`, naming `batchKey` as what to lower).
    public init(graph: ModelGraph, batchCapacity: Int, backend: BackendRequest = .auto,
                perLayerBackends: [String: BackendRequest] = [:], threads: Int = 0, seed: UInt64 = 0,
                fuse: Bool = true, frozenLayers: [String] = [], batchKey: String = "train.batch_size") throws {
        precondition(batchCapacity > 0 && !graph.nodes.isEmpty)  // invariant: callers validate the config
        try MemoryEstimate(graph: graph, batchCapacity: batchCapacity).check(batchKey: batchKey, model: graph.name)
        self.graph = graph
        self.batchCapacity = batchCapacity
        needsBackward = Self.nodesNeedingBackward(graph, frozen: frozenLayers)
        fusion = PlanFusion(graph: graph, enabled: fuse)
        isFused = fuse
        fusions = fusion.descriptions(graph)
        pool = ThreadPool(threadCount: threads)
        gemm = GEMM(pool: pool)
        parameters = ParameterStore(graph: graph)
        ParameterInitializer.initialize(parameters, seed: seed)
        let count = graph.nodes.count
        layers = Array(repeating: nil, count: count)
        forwardNanoseconds = Array(repeating: 0, count: count)
        backwardNanoseconds = Array(repeating: 0, count: count)
        accumulations = Array(repeating: [], count: count)
        activations = []
        gradients = []
        try allocateBuffers()
        for index in 1..<count where !fusion.isFusedAway(index) {
            layers[index] = try makeLayer(index, backend: backend, perLayerBackends: perLayerBackends, seed: seed)
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
            let isFrozen = frozen.contains { node.name == $0 || node.name.hasPrefix($0 + ".") }
            let learns = !isFrozen && node.op.parameters.contains { $0.isTrainable }
            needs.append(learns || node.inputs.contains { needs[$0] })
        }
        return needs
    }

    private func buffer(_ count: Int) -> UnsafeMutablePointer<Float> {
        gradientBytes += 4 * count  // every buffer but the activations (counted apart) holds a gradient
        let owned = AlignedBuffer<Float>(count: count)
        ownedBuffers.append(owned)
        return owned.pointer
    }

    private func consumers(of index: Int) -> Int {
        graph.nodes.reduce(0) { $0 + $1.inputs.filter { $0 == index }.count }
    }

    private func activationBuffer(_ count: Int) -> UnsafeMutablePointer<Float> {
        activationBytes += 4 * count
        let owned = AlignedBuffer<Float>(count: count)
        ownedBuffers.append(owned)
        return owned.pointer
    }

    private func allocateBuffers() throws {
        for (index, node) in graph.nodes.enumerated() {
            let perImage = node.outputShape.elementCount
            if fusion.isFusedAway(index), let source = node.inputs.first {
                // Runs inside the pool it feeds: nothing reads or writes these (aliases keep indices aligned).
                activations.append(activations[source])
                gradients.append(gradients[source])
                continue
            }
            if fusion.inPlaceReLUs.contains(index), let source = node.inputs.first {
                activations.append(activations[source])
                let gradient = gradients[source]
                gradients.append(gradient)
                if consumers(of: index) > 1, let gradient { multiConsumerGradients.append((gradient, perImage)) }
                continue
            }
            if node.op.isView, let source = node.inputs.first {
                activations.append(activations[source])
                let aliasesGradient = consumers(of: source) == 1 && consumers(of: index) == 1 && source != 0
                gradients.append(aliasesGradient ? gradients[source] : buffer(batchCapacity * perImage))
                if consumers(of: index) > 1, let gradient = gradients[index] { multiConsumerGradients.append((gradient, perImage)) }
                continue
            }
            activations.append(activationBuffer(batchCapacity * perImage))
            if index == 0 {
                gradients.append(nil)
            } else {
                let gradient = buffer(batchCapacity * perImage)
                gradients.append(gradient)
                if consumers(of: index) > 1 { multiConsumerGradients.append((gradient, perImage)) }
            }
        }
    }

    /// Where consumer `consumer` writes its gradient for input `input`, arranging accumulation when
    /// `input` feeds several layers.
    private func gradientTarget(consumer: Int, input: Int, required: Bool) -> UnsafeMutablePointer<Float>? {
        let perImage = graph.nodes[input].outputShape.elementCount
        guard needsBackward[input], let gradient = gradients[input] else {
            return required ? buffer(batchCapacity * perImage) : nil
        }
        if consumers(of: input) == 1 { return gradient }
        let scratch = buffer(batchCapacity * perImage)
        accumulations[consumer].append((scratch, gradient, perImage))
        return scratch
    }

    private func makeLayer(_ index: Int, backend: BackendRequest, perLayerBackends: [String: BackendRequest],
                           seed: UInt64) throws -> any ExecutableLayer {
        let node = graph.nodes[index]
        if let relu = fusion.reluIntoPool[index], let pooling = node.op as? PoolingOperation {
            let source = graph.nodes[relu].inputs[0]
            let wiring = LayerWiring(
                inputs: [activations[source]], inputShapes: [graph.nodes[source].outputShape], output: activations[index],
                outputShape: node.outputShape, outputGradient: gradients[index] ?? buffer(batchCapacity * node.outputShape.elementCount),
                inputGradients: [gradientTarget(consumer: index, input: source, required: false)])
            return try pooling.makeFusedReLULayer(context(node, index, wiring, backend: backend, perLayerBackends: perLayerBackends, seed: seed))
        }
        guard let operation = node.op as? any ExecutableOperation else {
            throw PlanError.unsupported(layer: node.name, reason: "\(node.op.kindName) layers cannot run")
        }
        let wiring = LayerWiring(
            inputs: node.inputs.map { activations[$0] },
            inputShapes: node.inputs.map { graph.nodes[$0].outputShape },
            output: activations[index],
            outputShape: node.outputShape,
            outputGradient: gradients[index] ?? buffer(batchCapacity * node.outputShape.elementCount),
            inputGradients: node.inputs.map {
                gradientTarget(consumer: index, input: $0, required: operation.needsInputGradientBuffer)
            })
        let context = context(node, index, wiring, backend: backend, perLayerBackends: perLayerBackends, seed: seed)
        let layer = try operation.makeLayer(context)
        if let selection = context.backendSelection { backendSelections.append(selection) }
        return layer
    }

    /// ReLU → pool after a convolution that nothing else reads: the pool's forward moves into the
    /// convolution's epilogue when its backend supports one (`ReLUPoolingLayer.fuseForward`).
    private func fuseIntoConvolutions() {
        var descriptions = fusions
        for (poolIndex, relu) in fusion.reluIntoPool.sorted(by: { $0.key < $1.key }) {
            let producer = graph.nodes[relu].inputs[0]
            guard producer > 0, consumers(of: producer) == 1, let fused = layers[poolIndex] as? ReLUPoolingLayer,
                  let convolution = layers[producer], fused.fuseForward(into: convolution) else { continue }
            descriptions = descriptions.map {
                $0 == "\(graph.nodes[relu].name) → \(graph.nodes[poolIndex].name)"
                    ? "\(graph.nodes[producer].name) → \($0) (in the convolution's epilogue)" : $0
            }
        }
        fusions = descriptions
    }

    private func context(_ node: GraphNode, _ index: Int, _ wiring: LayerWiring, backend: BackendRequest,
                         perLayerBackends: [String: BackendRequest], seed: UInt64) -> LayerBuildContext {
        LayerBuildContext(name: node.name, index: index, wiring: wiring, batchCapacity: batchCapacity, pool: pool,
                          gemm: gemm, seed: seed, parameters: parameters, requestedBackend: perLayerBackends[node.name] ?? backend)
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
    public func loss(batch: Int, labels: UnsafePointer<Int32>, computeGradient: Bool,
                     labelSmoothing: Float = 0) -> (loss: Float, correct: Int) {
        let last = activations.count - 1
        return SoftmaxCrossEntropy.forwardBackward(batch: batch, classes: classCount, logits: activations[last],
                                                   labels: labels, gradLogits: computeGradient ? gradients[last] : nil,
                                                   labelSmoothing: labelSmoothing)
    }

    /// Back-propagates the logits' gradient (from `loss`) to every parameter gradient.
    public func backward(batch: Int) {
        for (pointer, perImage) in multiConsumerGradients {
            Elementwise.fill(count: batch * perImage, value: 0, pointer)
        }
        for index in stride(from: layers.count - 1, through: 1, by: -1) {
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
    public func trainStep(batch: Int, labels: UnsafePointer<Int32>) -> (loss: Float, correct: Int) {
        forward(batch: batch, training: true)
        let result = loss(batch: batch, labels: labels, computeGradient: true, labelSmoothing: labelSmoothing)
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

    /// Tells layers that cache weight-derived data (the Toeplitz backend) to rebuild it.
    public func parametersDidChange() {
        // Indexed like `forward`: `for case let layer? in layers` allocates once per layer in debug builds,
        // where the zero-allocation test of a training step runs.
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
