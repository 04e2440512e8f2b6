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

    /// The product of `shape`'s dimensions, or nil when one is negative or the product overflows (a
    /// hostile header can declare any dimensions).
    static func elementCount(_ shape: [Int]) -> Int? {
        var count = 1
        for dimension in shape {
            guard dimension >= 0 else { return nil }
            let product = count.multipliedReportingOverflow(by: dimension)
            if product.overflow { return nil }
            count = product.partialValue
        }
        return count
    }

    /// Reads `url` and copies every tensor the network has into `store`. Missing tensors or wrong
    /// shapes are errors that list what the network expects. Returns the file's contents (for extra tensors).
    @discardableResult
    public static func load(into store: ParameterStore, from url: URL) throws(CheckpointError) -> SafetensorsFile.Contents {
        let contents = try SafetensorsFile.read(from: url)
        var problems: [String] = []
        for entry in store.entries {
            guard let tensor = contents.tensors[entry.name] else {
                problems.append("missing tensor '\(entry.name)' \(entry.shape)")
                continue
            }
            guard elementCount(tensor.shape) == entry.count, tensor.shape == entry.shape || entry.shape.isEmpty else {
                problems.append("'\(entry.name)' has shape \(tensor.shape), the model needs \(entry.shape)")
                continue
            }
        }
        if !problems.isEmpty {
            let known = contents.tensors.keys.sorted().prefix(8).joined(separator: ", ")
            throw CheckpointError(path: url.path, problem: problems.joined(separator: "; ")
                + " (the file holds: \(known)\(contents.tensors.count > 8 ? ", …" : "")) — was it saved from another model?")
        }
        for entry in store.entries {
            guard let tensor = contents.tensors[entry.name] else { continue }
            let base = entry.isTrainable ? store.values.pointer : store.buffers.pointer
            (base + entry.offset).update(from: tensor.data, count: entry.count)
        }
        return contents
    }
}
