import CNNLayers
import CNNSpec

/// The plan's fusion pass: which nodes of a graph run fused, found by pattern over the whole graph
/// (so it applies wherever the pattern occurs, inside `blocks:` and `repeat:` included).
///
/// - ReLU → max/avg pool (the ReLU feeding only the pool): one `ReLUPoolingLayer` at the pool's node;
///   the ReLU node runs nothing and gets no buffers.
/// Which producers take a ReLU is each kind's own statement (`ExecutableOperation.outputReLUFusion`).
///
/// - A ReLU after a producer declaring `.applied` that nothing else reads (batch norm and add: a residual
///   block's conv → bn → relu and add → relu): the producer applies it (`OutputReLUFusing`) in its own pass — max(y, 0) as it writes
///   its output, the mask inside its backward — and the ReLU node runs nothing; its output and gradient
///   are the producer's buffers. Saves the ReLU's pass over memory each way.
/// - An add whose input has no other reader shares that input's gradient buffer as its own output
///   gradient (`sharedAddGradients`), so backward copies nothing to it; and a gradient summed over several
///   readers is written directly by the first of them to run backward (`firstWriterDirect`), not
///   zeroed, written to scratch and added.
/// - Any other ReLU whose producer is the only reader of its input and declares `.inPlace` (its backward does
///   not read its output: conv2d, linear; or `.applied` where that cannot be used): the ReLU runs in place on the producer's output, and
///   its gradient in place on the producer's output gradient — one activation and one gradient buffer
///   fewer, and the ReLU reads data its producer has just written.
/// - Inference plans only: batch norm after a convolution that nothing else reads is folded into the
///   convolution (`BatchNormFolding`): the convolution runs on folded copies of its weight and bias and
///   the batch-norm node runs nothing. Training plans keep it, since batch statistics depend on the batch.
///
/// With fusion off (`train.fuse: false`) every node runs on its own buffers.
struct PlanFusion {
    /// Pool node → the ReLU node fused into it.
    private(set) var reluIntoPool: [Int: Int] = [:]
    /// ReLU nodes that run on their producer's buffers.
    private(set) var inPlaceReLUs: Set<Int> = []
    /// Batch-norm node → the convolution node it is folded into (inference plans).
    private(set) var foldedBatchNorms: [Int: Int] = [:]
    /// Batch-norm or add node → the ReLU node it applies itself (`OutputReLUFusing`).
    private(set) var reluIntoProducer: [Int: Int] = [:]
    /// Add node → the input whose gradient buffer the add's output gradient is (that input's only reader is the add).
    private(set) var sharedAddGradients: [Int: Int] = [:]
    /// Whether the memory plan lets the first consumer to run backward write a summed gradient directly.
    private(set) var firstWriterDirect = false

    init(graph: ModelGraph, enabled: Bool, purpose: PlanPurpose = .training) {
        guard enabled else { return }
        var consumerCount = Array(repeating: 0, count: graph.nodes.count)
        for node in graph.nodes { for input in node.inputs { consumerCount[input] += 1 } }
        func isReLU(_ index: Int) -> Bool {
            (graph.nodes[index].op as? ActivationOperation)?.activation == .relu && graph.nodes[index].inputs.count == 1
        }
        if purpose == .inference {
            for (index, node) in graph.nodes.enumerated() where node.op is BatchNormOperation && node.inputs.count == 1 {
                let producer = node.inputs[0]
                if producer > 0, graph.nodes[producer].op is Conv2dOperation, consumerCount[producer] == 1 {
                    foldedBatchNorms[index] = producer
                }
            }
        }
        for (index, node) in graph.nodes.enumerated() {
            guard let pooling = node.op as? PoolingOperation, !pooling.ceilMode, node.inputs.count == 1 else { continue }
            let relu = node.inputs[0]
            if relu > 0, isReLU(relu), consumerCount[relu] == 1 { reluIntoPool[index] = relu }
        }
        let fusedReLUs = Set(reluIntoPool.values)
        for index in graph.nodes.indices where index > 0 && isReLU(index) && !fusedReLUs.contains(index) {
            let producer = graph.nodes[index].inputs[0]
            guard producer > 0, consumerCount[producer] == 1 else { continue }
            // What the producer's kind declares (`ExecutableOperation.outputReLUFusion`).
            switch (graph.nodes[producer].op as? any ExecutableOperation)?.outputReLUFusion ?? .none {
            case .none: continue
            case .applied where foldedBatchNorms[producer] == nil: reluIntoProducer[producer] = index
            case .applied, .inPlace: inPlaceReLUs.insert(index)
            }
        }
        if purpose == .training {
            firstWriterDirect = true
            for (index, node) in graph.nodes.enumerated() where (node.op as? MergeOperation)?.merge == .add {
                if let input = node.inputs.first(where: { $0 > 0 && consumerCount[$0] == 1 }) { sharedAddGradients[index] = input }
            }
        }
    }

    /// True when node `index` runs nothing (fused into a later node, or a batch norm folded into its convolution).
    func isFusedAway(_ index: Int) -> Bool {
        reluIntoPool.values.contains(index) || foldedBatchNorms[index] != nil || reluIntoProducer.values.contains(index)
    }

    /// The node whose layer computes node `index`'s output: the convolution for a folded batch norm, else itself.
    func computingNode(_ index: Int) -> Int { foldedBatchNorms[index] ?? index }

    /// One line per fusion, for logs: "relu1 → maxpool1", "relu (in place on bn1)", "bn1 folded into conv1".
    func descriptions(_ graph: ModelGraph) -> [String] {
        let folded = foldedBatchNorms.sorted { $0.key < $1.key }.map { "\(graph.nodes[$0.key].name) folded into \(graph.nodes[$0.value].name)" }
        let pooled = reluIntoPool.sorted { $0.key < $1.key }.map { "\(graph.nodes[$0.value].name) → \(graph.nodes[$0.key].name)" }
        let inPlace = inPlaceReLUs.sorted().map { "\(graph.nodes[$0].name) in place on \(graph.nodes[graph.nodes[$0].inputs[0]].name)" }
        let intoProducer = reluIntoProducer.sorted { $0.key < $1.key }.map { "\(graph.nodes[$0.value].name) in \(graph.nodes[$0.key].name)" }
        let shared = sharedAddGradients.sorted { $0.key < $1.key }.map {
            "\(graph.nodes[$0.key].name) gradient shared with \(graph.nodes[$0.value].name)"
        }
        return folded + pooled + intoProducer + inPlace + shared
    }
}
