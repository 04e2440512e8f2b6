import CNNLayers
import CNNSpec

/// The plan's fusion pass: which nodes of a graph run fused, found by pattern over the whole graph
/// (so it applies wherever the pattern occurs, inside `blocks:` and `repeat:` included).
///
/// - ReLU → max/avg pool (the ReLU feeding only the pool): one `ReLUPoolingLayer` at the pool's node;
///   the ReLU node runs nothing and gets no buffers.
/// - Any other ReLU whose producer is the only reader of its input and does not need its own output in
///   backward (conv2d, linear, batch norm, add): the ReLU runs in place on the producer's output, and
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

    /// Kinds whose backward reads their input and output gradient but not their output, so a ReLU may
    /// overwrite that output.
    static let producersWithoutOutputInBackward: Set<String> = ["conv2d", "linear", "batchnorm2d", "batchnorm1d", "add"]

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
            guard producer > 0, consumerCount[producer] == 1,
                  PlanFusion.producersWithoutOutputInBackward.contains(graph.nodes[producer].op.kindName) else { continue }
            inPlaceReLUs.insert(index)
        }
    }

    /// True when node `index` runs nothing (fused into a later node, or a batch norm folded into its convolution).
    func isFusedAway(_ index: Int) -> Bool { reluIntoPool.values.contains(index) || foldedBatchNorms[index] != nil }

    /// The node whose layer computes node `index`'s output: the convolution for a folded batch norm, else itself.
    func computingNode(_ index: Int) -> Int { foldedBatchNorms[index] ?? index }

    /// One line per fusion, for logs: "relu1 → maxpool1", "relu (in place on bn1)", "bn1 folded into conv1".
    func descriptions(_ graph: ModelGraph) -> [String] {
        let folded = foldedBatchNorms.sorted { $0.key < $1.key }.map { "\(graph.nodes[$0.key].name) folded into \(graph.nodes[$0.value].name)" }
        let pooled = reluIntoPool.sorted { $0.key < $1.key }.map { "\(graph.nodes[$0.value].name) → \(graph.nodes[$0.key].name)" }
        let inPlace = inPlaceReLUs.sorted().map { "\(graph.nodes[$0].name) in place on \(graph.nodes[graph.nodes[$0].inputs[0]].name)" }
        return folded + pooled + inPlace
    }
}
