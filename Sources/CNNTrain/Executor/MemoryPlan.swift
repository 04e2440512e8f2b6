import CNNLayers
import CNNSpec

/// What a plan is built for. Training plans keep every activation backward reads; inference plans
/// (eval, predict, export, report) never run backward, so they have no gradient buffers, reuse
/// activation buffers by liveness, run element-wise layers in place and (with fusion on) fold batch norm
/// into the convolution before it.
public enum PlanPurpose: Sendable, Equatable {
    case training, inference
}

/// Which buffer every activation and gradient of a plan lives in, decided from the graph alone (no
/// allocation), so `ExecutionPlan` allocates exactly this and `cnnspec shapes` and the memory check
/// report the same figures.
///
/// Buffers are pooled "slots" handed out by liveness in execution order: a tensor takes a free slot
/// when its producer runs and gives it back after its last reader ran, so a chain needs about two live
/// activations (inference) and, in the backward pass, two live gradients. A merge's inputs stay alive
/// until the merge ran, because their last reader is the merge. A slot's size is the largest tensor it
/// ever holds.
///
/// - Inference: an activation lives from its producer to its last consumer; the input batch and the
///   logits are never reused (callers fill the one and read the other). An element-wise layer
///   (`ExecutableOperation.runsInPlaceInInference`) whose input nobody reads afterwards writes over it.
/// - Training: every activation lives the whole step (backward reads them); the gradient of node n is
///   written first by its last consumer's backward and is dead once n's own backward ran. Scratch
///   gradients (an input read by several layers sums its consumers' gradients; batch norm's scratch)
///   live for one layer's backward.
///
/// With `reuse` off every tensor gets its own slot (the plan before buffer reuse; tests compare both).
struct MemoryPlan: Sendable {
    /// Where backward writes the gradient of one input of a layer.
    enum InputGradient: Equatable, Sendable {
        /// No gradient is needed.
        case none
        /// Straight into the input's gradient slot.
        case direct(slot: Int)
        /// Into a scratch slot, then added to the input's gradient slot (the input feeds several layers).
        case accumulate(scratch: Int, target: Int)
        /// Into a scratch slot nobody reads (batch norm needs somewhere to write).
        case scratch(slot: Int)
    }

    /// Floats per image of each activation slot and of each gradient slot.
    private(set) var activationSlotSizes: [Int] = []
    private(set) var gradientSlotSizes: [Int] = []
    /// Per node: the slot of its output.
    private(set) var activationSlot: [Int] = []
    /// Per node: the slot of its output's gradient; nil for the input node and in inference plans.
    private(set) var gradientSlot: [Int?] = []
    /// Per node, per input of its layer: where backward writes that input's gradient.
    private(set) var inputGradients: [[InputGradient]] = []
    /// Per node: gradient slots (floats per image) zeroed before its backward — sums of several consumers' gradients.
    private(set) var zeroBeforeBackward: [[(slot: Int, perImage: Int)]] = []
    /// Nodes that run in place on their input's buffer (inference only; fusion's in-place ReLUs are in `PlanFusion`).
    private(set) var inPlace: Set<Int> = []

    /// Floats per image of all activation slots, and of all gradient slots (scratch included).
    var activationElementsPerImage: Int { activationSlotSizes.reduce(0, +) }
    var gradientElementsPerImage: Int { gradientSlotSizes.reduce(0, +) }
    /// Both together: what a plan allocates per image of its batch.
    var elementsPerImage: Int { activationElementsPerImage + gradientElementsPerImage }

    /// The plan `ExecutionPlan` builds with these settings (buffers reused), from the graph alone.
    init(graph: ModelGraph, fuse: Bool, frozenLayers: [String], purpose: PlanPurpose) {
        self.init(graph: graph, fusion: PlanFusion(graph: graph, enabled: fuse, purpose: purpose), purpose: purpose,
                  needsBackward: ExecutionPlan.nodesNeedingBackward(graph, frozen: frozenLayers), reuse: true)
    }

    /// The inputs a node's layer reads: a pool with a ReLU fused into it reads the ReLU's input.
    static func layerInputs(_ graph: ModelGraph, _ fusion: PlanFusion, _ index: Int) -> [Int] {
        if let relu = fusion.reluIntoPool[index] { return graph.nodes[relu].inputs }
        return graph.nodes[index].inputs
    }

    init(graph: ModelGraph, fusion: PlanFusion, purpose: PlanPurpose, needsBackward: [Bool], reuse: Bool) {
        let count = graph.nodes.count
        var consumers = Array(repeating: [Int](), count: count)
        for (index, node) in graph.nodes.enumerated() { for input in node.inputs { consumers[input].append(index) } }
        let reusesActivations = reuse && purpose == .inference

        // Activations: which node's buffer each output lives in (its "root"), and the root's lifetime.
        var root = Array(0..<count)
        var lastUse = Array(0..<count)  // per root: the last node reading any tensor in it
        var birth = Array(0..<count)  // per root: the node whose forward first writes it
        for (index, node) in graph.nodes.enumerated() where index > 0 {
            let source = node.inputs.first ?? 0
            let aliases = fusion.isFusedAway(index) || fusion.inPlaceReLUs.contains(index) || node.op.isView
            if aliases && node.inputs.count == 1 {
                root[index] = root[source]
            } else if reusesActivations, node.inputs.count == 1, root[source] != 0,
                      (node.op as? any ExecutableOperation)?.runsInPlaceInInference == true,
                      graph.nodes[source].outputShape.elementCount == node.outputShape.elementCount,
                      lastUse[root[source]] <= index {
                root[index] = root[source]
                inPlace.insert(index)
            }
            if let relu = fusion.reluIntoPool[index] {
                // The convolution's epilogue may write the pooled output while it runs: alive from there.
                birth[root[index]] = min(birth[root[index]], root[graph.nodes[relu].inputs[0]])
            }
            for consumer in consumers[index] { lastUse[root[index]] = max(lastUse[root[index]], consumer) }
            for input in node.inputs { lastUse[root[input]] = max(lastUse[root[input]], index) }
        }
        let persistent = count  // a lifetime past the last node: never given back
        if !reusesActivations { for index in 0..<count { lastUse[index] = persistent } }
        lastUse[0] = persistent
        lastUse[root[count - 1]] = persistent
        var allocator = SlotAllocator(reuse: reusesActivations)
        var slotOfRoot = Array(repeating: -1, count: count)
        let births = Dictionary(grouping: (0..<count).filter { root[$0] == $0 }, by: { birth[$0] })
        let deaths = Dictionary(grouping: (0..<count).filter { root[$0] == $0 }, by: { lastUse[$0] })
        for step in 0..<count {
            for rootIndex in births[step, default: []] {
                slotOfRoot[rootIndex] = allocator.take(graph.nodes[rootIndex].outputShape.elementCount)
            }
            for rootIndex in deaths[step, default: []] { allocator.release(slotOfRoot[rootIndex]) }
        }
        activationSlotSizes = allocator.sizes
        activationSlot = root.map { slotOfRoot[$0] }

        inputGradients = (0..<count).map { index in Self.layerInputs(graph, fusion, index).map { _ in InputGradient.none } }
        zeroBeforeBackward = Array(repeating: [], count: count)
        gradientSlot = Array(repeating: nil, count: count)
        guard purpose == .training else { return }
        // Backward follows the layers, not the graph: a pool with a ReLU fused into it writes the gradient of the ReLU's input.
        var readers = Array(repeating: [Int](), count: count)
        for index in 1..<count where !fusion.isFusedAway(index) {
            for input in Self.layerInputs(graph, fusion, index) { readers[input].append(index) }
        }
        planGradients(graph: graph, fusion: fusion, consumers: readers, needsBackward: needsBackward, reuse: reuse)
    }

    /// Gradient slots for a training plan, by liveness in the backward pass (which runs from the last node
    /// down); `consumers` are the layers reading each node's output.
    private mutating func planGradients(graph: ModelGraph, fusion: PlanFusion, consumers: [[Int]], needsBackward: [Bool],
                                        reuse: Bool) {
        let count = graph.nodes.count
        // Which node's gradient buffer each node's gradient is (aliases as the activations', where backward allows).
        var root = Array(0..<count)
        for (index, node) in graph.nodes.enumerated() where index > 0 {
            // An add's output gradient is the gradient of an input only it reads (`PlanFusion.sharedAddGradients`).
            if let input = fusion.sharedAddGradients[index], needsBackward[input], consumers[input] == [index], root[input] != 0 {
                root[index] = root[input]
                continue
            }
            guard node.inputs.count == 1 else { continue }
            let source = node.inputs[0]
            if fusion.isFusedAway(index) || fusion.inPlaceReLUs.contains(index) {
                root[index] = root[source]
            } else if node.op.isView && source != 0 && consumers[source].count == 1 && consumers[index].count == 1 {
                root[index] = root[source]
            }
        }

        // A gradient is first written by the backward of the last consumer of any tensor sharing it, and
        // last read by the backward of its root (the lowest node sharing it).
        var firstWrite = Array(0..<count)
        for index in 1..<count where root[index] != 0 {
            firstWrite[root[index]] = max(firstWrite[root[index]], consumers[index].max() ?? index)
        }
        let owners = (1..<count).filter { root[$0] == $0 }
        let births = Dictionary(grouping: owners, by: { firstWrite[$0] })
        // A pool with a ReLU fused into it hands its output gradient to the convolution before it, which may
        // expand it itself in its backward (`ReLUPoolingEpilogue.expandGradient`): alive until that ran.
        var lastRead = Array(0..<count)
        for (pool, relu) in fusion.reluIntoPool where root[pool] != 0 {
            let producer = graph.nodes[relu].inputs[0]
            if producer > 0 { lastRead[root[pool]] = min(lastRead[root[pool]], fusion.computingNode(producer)) }
        }
        let deaths = Dictionary(grouping: owners, by: { lastRead[$0] })
        // A gradient summed over several consumers is zeroed before the first of them (the last node) writes.
        // With `PlanFusion.firstWriterDirect`, that first writer (reading the input once) writes it directly instead.
        func firstWriterWritesDirectly(_ index: Int) -> Bool {
            guard fusion.firstWriterDirect, let last = consumers[index].max() else { return false }
            return consumers[index].filter { $0 == last }.count == 1
        }
        let summed = Dictionary(grouping: (1..<count).filter { consumers[$0].count > 1 && root[$0] != 0 && !firstWriterWritesDirectly($0) },
                                by: { consumers[$0].max() ?? $0 })
        var allocator = SlotAllocator(reuse: reuse)
        var slotOfRoot = Array(repeating: -1, count: count)
        for step in stride(from: count - 1, through: 1, by: -1) {
            for rootIndex in births[step, default: []] {
                slotOfRoot[rootIndex] = allocator.take(graph.nodes[rootIndex].outputShape.elementCount)
            }
            // Node `step`'s layer: where each of its inputs' gradient goes.
            var scratches: [Int] = []
            if !fusion.isFusedAway(step) {
                let inputs = Self.layerInputs(graph, fusion, step)
                let required = fusion.reluIntoPool[step] == nil
                    && (graph.nodes[step].op as? any ExecutableOperation)?.needsInputGradientBuffer == true
                for (position, input) in inputs.enumerated() {
                    let perImage = graph.nodes[input].outputShape.elementCount
                    if input == 0 || !needsBackward[input] {
                        guard required else { continue }
                        let scratch = allocator.take(perImage)
                        scratches.append(scratch)
                        inputGradients[step][position] = .scratch(slot: scratch)
                    } else if consumers[input].count == 1 || (firstWriterWritesDirectly(input) && consumers[input].max() == step) {
                        inputGradients[step][position] = .direct(slot: slotOfRoot[root[input]])
                    } else {
                        let scratch = allocator.take(perImage)
                        scratches.append(scratch)
                        inputGradients[step][position] = .accumulate(scratch: scratch, target: slotOfRoot[root[input]])
                    }
                }
            }
            for index in summed[step, default: []] {
                zeroBeforeBackward[step].append((slotOfRoot[root[index]], graph.nodes[index].outputShape.elementCount))
            }
            for scratch in scratches { allocator.release(scratch) }
            for rootIndex in deaths[step, default: []] { allocator.release(slotOfRoot[rootIndex]) }
        }
        gradientSlotSizes = allocator.sizes
        gradientSlot = (0..<count).map { root[$0] == 0 ? nil : slotOfRoot[root[$0]] }
    }
}

/// Hands out buffer slots: a free slot that is large enough (the smallest such), else the largest free
/// slot grown to fit, else a new one. Without reuse, always a new one.
private struct SlotAllocator {
    let reuse: Bool
    private(set) var sizes: [Int] = []
    private var free: [Int] = []

    init(reuse: Bool) { self.reuse = reuse }

    mutating func take(_ size: Int) -> Int {
        if reuse && !free.isEmpty {
            let fitting = free.indices.filter { sizes[free[$0]] >= size }
            let position = fitting.min { sizes[free[$0]] < sizes[free[$1]] }
                ?? free.indices.max { sizes[free[$0]] < sizes[free[$1]] }!
            let slot = free.remove(at: position)
            sizes[slot] = max(sizes[slot], size)
            return slot
        }
        sizes.append(size)
        return sizes.count - 1
    }

    mutating func release(_ slot: Int) {
        if reuse { free.append(slot) }
    }
}

/// Activation memory per image of the plans `ExecutionPlan` builds for `graph` (fusion on, nothing
/// frozen), from the same planning pass, without allocating: what `cnnspec shapes` prints.
public struct PlannedActivationMemory: Sendable, Equatable {
    /// Training: activations plus gradients (scratch included), bytes per image.
    public var trainingBytesPerImage: Int
    /// Of which activations.
    public var trainingActivationBytesPerImage: Int
    /// Inference: activations with buffers reused by liveness, bytes per image.
    public var inferenceBytesPerImage: Int

    public init(graph: ModelGraph, fuse: Bool = true, frozenLayers: [String] = []) {
        let training = MemoryPlan(graph: graph, fuse: fuse, frozenLayers: frozenLayers, purpose: .training)
        let inference = MemoryPlan(graph: graph, fuse: fuse, frozenLayers: frozenLayers, purpose: .inference)
        trainingActivationBytesPerImage = Self.floatBytes * training.activationElementsPerImage
        trainingBytesPerImage = Self.floatBytes * training.elementsPerImage
        inferenceBytesPerImage = Self.floatBytes * inference.activationElementsPerImage
    }

    /// Bytes of one float32.
    static let floatBytes = 4
}

extension MemoryEstimate {
    /// The estimate of the plan `ExecutionPlan` builds with these settings, from the same planning pass
    /// (so a session can refuse a run before it creates anything, with the figure the plan would check).
    public init(graph: ModelGraph, batchCapacity: Int, fuse: Bool, frozenLayers: [String], purpose: PlanPurpose, threads: Int,
                backend: BackendRequest, perLayerBackends: [String: BackendRequest]) {
        self.init(graph: graph, batchCapacity: batchCapacity,
                  memory: MemoryPlan(graph: graph, fuse: fuse, frozenLayers: frozenLayers, purpose: purpose), threads: threads,
                  backend: backend, perLayerBackends: perLayerBackends)
    }

    /// The estimate of a plan laid out by `memory`.
    init(graph: ModelGraph, batchCapacity: Int, memory: MemoryPlan, threads: Int, backend: BackendRequest,
         perLayerBackends: [String: BackendRequest]) {
        self.init(graph: graph, batchCapacity: batchCapacity, plannedElementsPerImage: Double(memory.elementsPerImage),
                  threads: threads, backend: backend, perLayerBackends: perLayerBackends)
    }
}
