import Foundation

/// Reads `torch.save` files in the zip format (PyTorch ≥ 1.6): `PREFIX/data.pkl`, the pickled object,
/// whose tensors point at their storages `PREFIX/data/<key>` (raw little-endian elements).
///
/// The object must be a state_dict (a dict of tensors) or a dict holding one under `key`, else under
/// `state_dict`, `model_state_dict` or `model`. The pickle is read by `RestrictedUnpickler` (PyTorch's
/// `weights_only=True` rules: nothing is executed, unknown globals are refused by name). Tensors of
/// float32/16, bfloat16, float64 and integer storages are read as Float32, views (storage offset,
/// strides) in logical row-major order. Every error names the file, the entry or key, and what is valid.
public enum PyTorchCheckpoint {
    /// Keys looked for, in order, when the file's dict is not itself a state_dict.
    public static let wrapperKeys = ["state_dict", "model_state_dict", "model"]

    /// `data.pkl` larger than this is refused before it is read (a ResNet-152 state_dict's is about 100 KB).
    static let maximumPickleBytes: UInt64 = 64 << 20
    /// A storage larger than this (a billion float32 values) is refused before it is read.
    static let maximumStorageBytes: UInt64 = 4 << 30
    /// The tensors read may hold at most this many elements beyond their storages' (views of one storage
    /// repeated, e.g. tied weights); more would let a tiny file claim any amount of memory.
    static let extraElementAllowance = 1 << 24

    /// The first bytes of a zip archive (a local file header, or the end record of an empty one).
    static func isZip(_ data: Data) -> Bool {
        data.starts(with: [0x50, 0x4B, 0x03, 0x04]) || data.starts(with: [0x50, 0x4B, 0x05, 0x06])
    }

    /// A legacy (pre-1.6) `torch.save` file: a pickle (protocol 2) of torch's magic number first.
    static let legacyMagic: [UInt8] = [0x80, 0x02, 0x8A, 0x0A, 0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19]

    /// How to turn a legacy or plain-pickle file into one cnnspec reads.
    static let conversion = "convert it with a current PyTorch: torch.save(torch.load(OLD, weights_only=True), NEW, "
        + "_use_new_zipfile_serialization=True)"

    /// Why `data` (not a zip) is no `torch.save` file cnnspec reads, when it looks like a pickle (protocol 2–5,
    /// whose first 8 bytes read as a safetensors header length would run past the file); nil otherwise.
    static func picklePrefixProblem(_ data: Data) -> String? {
        if data.starts(with: legacyMagic) {
            return "a PyTorch file in the legacy format of PyTorch < 1.6 (a bare pickle), which cnnspec does not read; \(conversion)"
        }
        let head = [UInt8](data.prefix(8))
        let headerLength = head.reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        if head.count == 8, head[0] == 0x80, (2...5).contains(head[1]), headerLength > UInt64(data.count - 8) {
            return "a bare pickle, not torch.save's zip format (PyTorch ≥ 1.6), which cnnspec does not read; \(conversion)"
        }
        return nil
    }

    /// Decodes a `torch.save` zip archive; `path` names it in errors, `key` picks the entry of a wrapping dict.
    public static func decode(_ data: Data, path: String, key: String? = nil) throws(CheckpointError) -> SafetensorsFile.Contents {
        func fail(_ problem: String) -> CheckpointError { CheckpointError(path: path, problem: problem) }
        let archive: ZipArchive
        do { archive = try ZipArchive(data) } catch { throw fail(error.message) }
        let pickles = archive.entries.filter { $0.name.hasSuffix("/data.pkl") && $0.name.split(separator: "/", omittingEmptySubsequences: false).count == 2 }
        guard pickles.count == 1, let pickleEntry = pickles.first else {
            let names = archive.entries.prefix(6).map(\.name).joined(separator: ", ")
            throw fail("a zip archive but not a torch.save file: it needs exactly one NAME/data.pkl, "
                + "found \(pickles.count) (entries: \(names.isEmpty ? "none" : names)\(archive.entries.count > 6 ? ", …" : ""))")
        }
        let prefix = String(pickleEntry.name.dropLast("data.pkl".count))
        func entry(_ name: String) -> ZipArchive.Entry? { archive.entries.first { $0.name == prefix + name } }
        do {
            if let order = entry("byteorder") {
                let text = String(decoding: try archive.read(order, limit: 16), as: UTF8.self)
                guard text == "little" else {
                    throw fail("\(prefix)byteorder says '\(text)'; cnnspec reads little-endian torch.save files (saved on x86 or ARM)")
                }
            }
            var unpickler = RestrictedUnpickler(try archive.read(pickleEntry, limit: maximumPickleBytes))
            let root: RestrictedUnpickler.Value
            do { root = try unpickler.load() } catch { throw fail("\(pickleEntry.name): \(error.message)") }
            let stateDict = try select(root, in: unpickler, key: key, fail: fail)
            var tensors: [String: SafetensorsFile.Tensor] = [:]
            var storages: [String: [UInt8]] = [:]
            var budget = extraElementAllowance
            for (name, record) in stateDict {
                let storageName = "data/\(record.storage.key)"
                if storages[record.storage.key] == nil {
                    guard let storageEntry = entry(storageName) else {
                        throw fail("tensor '\(name)' refers to storage \(prefix)\(storageName), which the archive lacks (truncated or corrupt)")
                    }
                    let bytes = try archive.read(storageEntry, limit: maximumStorageBytes)
                    storages[record.storage.key] = bytes
                    budget += bytes.count / (SafetensorsFile.elementBytes[record.storage.dtype] ?? 1)
                }
                let bytes = storages[record.storage.key] ?? []
                let values: [Float]
                do { values = try view(record, of: bytes, budget: &budget) } catch {
                    throw fail("tensor '\(name)' (\(prefix)\(storageName)): \(error.message)")
                }
                tensors[name] = SafetensorsFile.Tensor(shape: record.shape, data: values)
            }
            return SafetensorsFile.Contents(tensors: tensors, metadata: [:])
        } catch let error as ZipFailure {
            throw fail(error.message)
        } catch let error as CheckpointError {
            throw error
        } catch {
            throw fail("\(error)")
        }
    }

    /// The state_dict's tensors by name (last value of a repeated key), from the file's root object.
    private static func select(_ root: RestrictedUnpickler.Value, in unpickler: RestrictedUnpickler, key: String?,
                               fail: (String) -> CheckpointError) throws(CheckpointError) -> [(String, RestrictedUnpickler.TensorRecord)] {
        func items(_ value: RestrictedUnpickler.Value) -> [(key: RestrictedUnpickler.Value, value: RestrictedUnpickler.Value)]? {
            guard case .object(let index) = value, case .dict(let items) = unpickler.objects[index] else { return nil }
            return items
        }
        func tensor(_ value: RestrictedUnpickler.Value) -> RestrictedUnpickler.TensorRecord? {
            guard case .object(let index) = value, case .tensor(let record) = unpickler.objects[index] else { return nil }
            return record
        }
        func stringKeys(_ pairs: [(key: RestrictedUnpickler.Value, value: RestrictedUnpickler.Value)]) -> [String] {
            var seen = Set<String>()
            return pairs.compactMap { if case .string(let name) = $0.key, seen.insert(name).inserted { name } else { nil } }
        }
        guard let top = items(root) else {
            throw fail("holds a \(unpickler.describe(root)), not a dict; save model.state_dict() (or a dict holding it)")
        }
        let listed = stringKeys(top).prefix(12).map { "'\($0)'" }.joined(separator: ", ")
        let keyHint = "name the entry that holds the weights with --checkpoint-key KEY (train.init.key in a config)"
        var chosen = top
        var label = "the file's dict"
        if let key {
            guard let value = top.last(where: { if case .string(key) = $0.key { true } else { false } })?.value else {
                throw fail("has no entry '\(key)' (the checkpoint key asked for); its keys: \(listed.isEmpty ? "none" : listed)")
            }
            guard let inner = items(value) else { throw fail("entry '\(key)' holds a \(unpickler.describe(value)), not a state_dict (a dict of tensors)") }
            chosen = inner
            label = "entry '\(key)'"
        } else if !top.contains(where: { tensor($0.value) != nil }) {
            let found = wrapperKeys.lazy.compactMap { name in
                top.last(where: { if case .string(name) = $0.key { true } else { false } }).flatMap { pair in items(pair.value).map { (name, $0) } }
            }.first
            guard let (name, inner) = found else {
                throw fail("holds no tensors and no \(wrapperKeys.map { "'\($0)'" }.joined(separator: ", ")) entry with a state_dict; "
                    + "its keys: \(listed.isEmpty ? "none" : listed); \(keyHint)")
            }
            chosen = inner
            label = "entry '\(name)'"
        }
        var result: [String: RestrictedUnpickler.TensorRecord] = [:]
        var order: [String] = []
        for pair in chosen {
            guard case .string(let name) = pair.key else {
                throw fail("\(label) has a \(unpickler.describe(pair.key)) key; a state_dict's keys are tensor names")
            }
            guard let record = tensor(pair.value) else { continue }  // e.g. a stray number next to the weights
            if result.updateValue(record, forKey: name) == nil { order.append(name) }
        }
        guard !result.isEmpty else {
            throw fail("\(label) holds no tensors; its keys: \(stringKeys(chosen).prefix(12).joined(separator: ", ")); \(keyHint)")
        }
        return order.map { ($0, result[$0]!) }  // invariant: order lists result's keys
    }

    /// The elements of a tensor record (a view of `storage`'s bytes) in logical row-major order, as Float32.
    /// `budget` is how many more elements the file may produce.
    static func view(_ record: RestrictedUnpickler.TensorRecord, of storage: [UInt8], budget: inout Int) throws(RestrictedUnpickler.Failure) -> [Float] {
        func failure(_ message: String) -> RestrictedUnpickler.Failure { RestrictedUnpickler.Failure(message: message) }
        let dtype = record.storage.dtype
        let size = SafetensorsFile.elementBytes[dtype] ?? 4
        let available = storage.count / size
        guard storage.count % size == 0, record.storage.elements == available else {
            throw failure("the storage record says \(record.storage.elements) \(dtype) elements but the entry holds \(storage.count) bytes")
        }
        var count = 1
        var last = record.offset  // the largest element index the view reads
        for (dimension, stride) in zip(record.shape, record.strides) {
            let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
            guard !overflow else { throw failure("shape \(record.shape) has more than 2^63 elements") }
            count = product
            guard dimension > 0 else { continue }
            let (reach, overflowReach) = (dimension - 1).multipliedReportingOverflow(by: stride)
            let (sum, overflowSum) = last.addingReportingOverflow(reach)
            guard !overflowReach, !overflowSum else { throw failure("shape \(record.shape) with strides \(record.strides) reaches past any storage") }
            last = sum
        }
        guard count == 0 || last < available else {
            throw failure("shape \(record.shape), strides \(record.strides) at offset \(record.offset) read element \(last), "
                + "but the storage holds \(available) (corrupt file)")
        }
        guard count <= budget else {
            throw failure("shape \(record.shape) has \(count) elements, more than the file's storages hold (corrupt file)")
        }
        budget -= count
        var values = [Float](repeating: 0, count: count)
        guard count > 0 else { return values }
        storage.withUnsafeBytes { raw in
            var index = [Int](repeating: 0, count: record.shape.count)
            var element = record.offset
            for position in 0..<count {
                values[position] = SafetensorsFile.element(raw, at: element * size, dtype: dtype)
                // Odometer over the logical indices, innermost axis fastest.
                var axis = record.shape.count - 1
                while axis >= 0 {
                    index[axis] += 1
                    element += record.strides[axis]
                    if index[axis] < record.shape[axis] { break }
                    element -= record.strides[axis] * record.shape[axis]
                    index[axis] = 0
                    axis -= 1
                }
            }
        }
        return values
    }
}
