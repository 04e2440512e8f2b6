/// One layer of a validated network: what it computes, from which nodes, and its inferred shape.
public struct GraphNode: Sendable {
    /// Unique in the graph; also the prefix of its parameters in checkpoints (`conv1.weight`).
    public var name: String
    public var op: any LayerOperation
    /// Indices of the nodes this one reads, in order; empty only for the input node.
    public var inputs: [Int]
    public var outputShape: TensorShape
    /// Trainable parameters (weights and biases; batch-norm running statistics excluded).
    public var parameterCount: Int
    /// Multiply-accumulates for one image's forward pass.
    public var macs: Int
    /// Where the layer is written in the model file.
    public var location: SourceLocation?

    public init(name: String, op: any LayerOperation, inputs: [Int], outputShape: TensorShape,
                parameterCount: Int, macs: Int, location: SourceLocation?) {
        self.name = name; self.op = op; self.inputs = inputs; self.outputShape = outputShape
        self.parameterCount = parameterCount; self.macs = macs; self.location = location
    }
}

/// A network as a topologically ordered graph with every shape inferred.
///
/// Node 0 is the input; every node's inputs have smaller indices; the last node is the output
/// (the logits the loss reads). This is the contract between the spec layer and the executor.
public struct ModelGraph: Sendable {
    /// The model's name (from the file, or its file name).
    public var name: String
    public var nodes: [GraphNode]

    public init(name: String, nodes: [GraphNode]) {
        self.name = name
        self.nodes = nodes
    }

    public var inputShape: TensorShape { nodes[0].outputShape }
    public var outputShape: TensorShape { nodes[nodes.count - 1].outputShape }
    public var totalParameters: Int { nodes.reduce(0) { $0 + $1.parameterCount } }
    public var totalMACs: Int { nodes.reduce(0) { $0 + $1.macs } }

    /// What is valid but probably not meant, located at the input: an input written height, width,
    /// channels (`[64, 64, 3]`, as images are stored) instead of channels, height, width.
    public var warnings: [Diagnostic] {
        guard case .image(let first, let second, let last) = inputShape, last == 1 || last == 3, first > 4 else { return [] }
        return [.warning("input [\(first), \(second), \(last)] is channels, height, width: \(first) channels of \(second)×\(last); did you mean [\(last), \(first), \(second)]?",
                         at: nodes[0].location,
                         hint: "input is [channels, height, width] as in PyTorch; a \(last == 1 ? "grey" : "colour") \(first)×\(second) picture is [\(last), \(first), \(second)]")]
    }
}
