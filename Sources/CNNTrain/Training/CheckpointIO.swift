import Foundation

/// Saves and restores a plan's tensors as safetensors with PyTorch `state_dict` names.
public enum CheckpointIO {
    /// Every parameter and buffer of `store` (e.g. `cnn1.weight` [16, 1, 5, 5]).
    public static func tensors(of store: ParameterStore) -> [String: SafetensorsFile.Tensor] {
        var tensors: [String: SafetensorsFile.Tensor] = [:]
        for entry in store.entries {
            let base = entry.isTrainable ? store.values.pointer : store.buffers.pointer
            tensors[entry.name] = SafetensorsFile.Tensor(
                shape: entry.shape, data: Array(UnsafeBufferPointer(start: base + entry.offset, count: entry.count)))
        }
        return tensors
    }

    /// Writes `store` (plus `extra` tensors) to `url` atomically.
    public static func save(_ store: ParameterStore, extra: [String: SafetensorsFile.Tensor] = [:],
                            metadata: [String: String], to url: URL) throws(CheckpointError) {
        try SafetensorsFile.write(tensors: tensors(of: store).merging(extra) { a, _ in a }, metadata: metadata, to: url)
    }

    /// Reads `url` (safetensors, or a PyTorch `torch.save` file whose state_dict `key` names or is detected:
    /// `CheckpointFile`) and copies every tensor the network has into `store`. Missing tensors or wrong
    /// shapes are errors that list what the network expects. Returns the file's contents (for extra tensors).
    @discardableResult
    public static func load(into store: ParameterStore, from url: URL, key: String? = nil) throws(CheckpointError) -> SafetensorsFile.Contents {
        let contents = try CheckpointFile.read(from: url, key: key)
        var problems: [String] = []
        var found: [(entry: ParameterStore.Entry, tensor: SafetensorsFile.Tensor)] = []
        for entry in store.entries {
            switch match(entry, in: contents) {
            case .problem(let problem): problems.append(problem)
            case .found(let tensor): found.append((entry, tensor))
            }
        }
        if !problems.isEmpty {
            let known = contents.tensors.keys.sorted().prefix(8).joined(separator: ", ")
            throw CheckpointError(path: url.path, problem: problems.joined(separator: "; ")
                + " (the file holds: \(known)\(contents.tensors.count > 8 ? ", …" : "")) — was it saved from another model?")
        }
        // Nothing is copied unless everything matches: a refused file leaves the weights as they were.
        for (entry, tensor) in found { copy(tensor, into: store, at: entry) }
        return contents
    }

    /// What a checkpoint holds for one tensor of the model.
    enum TensorMatch {
        case found(SafetensorsFile.Tensor)
        /// Missing, or of a shape the model does not have: the message names it and what the model needs.
        case problem(String)
    }

    /// The file's tensor for `entry`, or why it cannot be loaded.
    static func match(_ entry: ParameterStore.Entry, in contents: SafetensorsFile.Contents) -> TensorMatch {
        guard let tensor = contents.tensors[entry.name] else { return .problem("missing tensor '\(entry.name)' \(entry.shape)") }
        guard tensor.data.count == entry.count, tensor.shape == entry.shape || entry.shape.isEmpty else {
            return .problem("'\(entry.name)' has shape \(tensor.shape) in the file, the model needs \(entry.shape)")
        }
        return .found(tensor)
    }

    /// Copies a matched tensor into its place in `store` (parameters or buffers).
    static func copy(_ tensor: SafetensorsFile.Tensor, into store: ParameterStore, at entry: ParameterStore.Entry) {
        let base = entry.isTrainable ? store.values.pointer : store.buffers.pointer
        (base + entry.offset).update(from: tensor.data, count: entry.count)
    }
}
