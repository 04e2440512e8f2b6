import CNNSpec

/// All of a network's tensors that a checkpoint holds, by PyTorch `state_dict` name.
///
/// Trainable parameters live in one contiguous buffer (and their gradients in another of the same
/// layout), so an optimizer step is a single vectorised pass. Batch-norm running statistics are
/// non-trainable buffers kept apart.
public final class ParameterStore {
    /// One named tensor: its shape and where it lives.
    public struct Entry: Sendable {
        public var name: String
        public var shape: [Int]
        public var offset: Int
        public var count: Int
        /// True for weights and biases; false for running statistics.
        public var isTrainable: Bool
    }

    public let entries: [Entry]
    public let values: AlignedBuffer<Float>
    public let gradients: AlignedBuffer<Float>
    public let buffers: AlignedBuffer<Float>

    /// Number of trainable scalars.
    public var trainableCount: Int { values.count }

    /// Lays out every parameter and buffer the graph's layers declare, in graph order.
    public init(graph: ModelGraph) {
        var entries: [Entry] = []
        var trainable = 0
        var nonTrainable = 0
        func add(_ name: String, _ shape: [Int], trainable isTrainable: Bool) {
            let count = shape.reduce(1, *)
            if isTrainable {
                entries.append(Entry(name: name, shape: shape, offset: trainable, count: count, isTrainable: true))
                trainable += count
            } else {
                entries.append(Entry(name: name, shape: shape, offset: nonTrainable, count: count, isTrainable: false))
                nonTrainable += count
            }
        }
        for node in graph.nodes {
            switch node.op {
            case .conv2d(let conv):
                add(node.name + ".weight", [conv.outChannels, conv.inChannels, conv.kernel.height, conv.kernel.width], trainable: true)
                if conv.bias { add(node.name + ".bias", [conv.outChannels], trainable: true) }
            case .linear(let inFeatures, let outFeatures, let bias):
                add(node.name + ".weight", [outFeatures, inFeatures], trainable: true)
                if bias { add(node.name + ".bias", [outFeatures], trainable: true) }
            case .batchNorm2d(let channels, _, _):
                add(node.name + ".weight", [channels], trainable: true)
                add(node.name + ".bias", [channels], trainable: true)
                add(node.name + ".running_mean", [channels], trainable: false)
                add(node.name + ".running_var", [channels], trainable: false)
                add(node.name + ".num_batches_tracked", [], trainable: false)
            default:
                break
            }
        }
        self.entries = entries
        values = AlignedBuffer(count: trainable)
        gradients = AlignedBuffer(count: trainable)
        buffers = AlignedBuffer(count: nonTrainable)
    }

    /// The entry called `name`, if the network has one.
    public func entry(_ name: String) -> Entry? { entries.first { $0.name == name } }

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
