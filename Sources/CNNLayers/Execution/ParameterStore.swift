import CNNSpec

/// All of a network's tensors that a checkpoint holds, by PyTorch `state_dict` name.
///
/// Trainable parameters live in one contiguous buffer (and their gradients in another of the same
/// layout), so an optimizer step is a single vectorised pass. Non-trainable buffers (batch-norm
/// running statistics) are kept apart. The layout is what each operation declares, in graph order.
public final class ParameterStore {
    /// One named tensor: its shape and where it lives.
    public struct Entry: Sendable {
        public var name: String
        public var shape: [Int]
        public var offset: Int
        public var count: Int
        /// True for weights and biases; false for running statistics.
        public var isTrainable: Bool
        /// Stored as int64 in PyTorch's files (`num_batches_tracked`).
        public var isInteger: Bool
        public var initialization: ParameterDeclaration.Initialization
    }

    public let entries: [Entry]
    public let values: AlignedBuffer<Float>
    public let gradients: AlignedBuffer<Float>
    public let buffers: AlignedBuffer<Float>
    private let index: [String: Int]

    /// Number of trainable scalars.
    public var trainableCount: Int { values.count }

    /// Lays out every tensor the graph's operations declare, in graph order.
    public init(graph: ModelGraph) {
        var entries: [Entry] = []
        var trainable = 0
        var nonTrainable = 0
        for node in graph.nodes {
            for declaration in node.op.parameters {
                let count = declaration.count
                let offset = declaration.isTrainable ? trainable : nonTrainable
                entries.append(Entry(name: node.name + "." + declaration.suffix, shape: declaration.shape, offset: offset, count: count,
                                     isTrainable: declaration.isTrainable, isInteger: declaration.isInteger,
                                     initialization: declaration.initialization))
                if declaration.isTrainable { trainable += count } else { nonTrainable += count }
            }
        }
        self.entries = entries
        var index: [String: Int] = [:]
        for (position, entry) in entries.enumerated() { index[entry.name] = position }
        self.index = index
        values = AlignedBuffer(count: trainable)
        gradients = AlignedBuffer(count: trainable)
        buffers = AlignedBuffer(count: nonTrainable)
    }

    /// The entry called `name`, if the network has one.
    public func entry(_ name: String) -> Entry? { index[name].map { entries[$0] } }

    /// Where the tensor `name` lives (parameters or buffers).
    public func pointer(_ name: String) -> UnsafeMutablePointer<Float>? {
        guard let entry = entry(name) else { return nil }
        return (entry.isTrainable ? values.pointer : buffers.pointer) + entry.offset
    }

    /// The gradient of trainable tensor `name`.
    public func gradientPointer(_ name: String) -> UnsafeMutablePointer<Float>? {
        guard let entry = entry(name), entry.isTrainable else { return nil }
        return gradients.pointer + entry.offset
    }

    /// A copy of tensor `name`'s values.
    public func values(of name: String) -> [Float] {
        guard let entry = entry(name), let pointer = pointer(name) else { return [] }
        return Array(UnsafeBufferPointer(start: pointer, count: entry.count))
    }
}
