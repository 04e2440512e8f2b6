import Foundation
import CNNSpec

/// Reads and writes the safetensors format (https://github.com/huggingface/safetensors): an 8-byte
/// little-endian header length, a JSON header `{name: {dtype, shape, data_offsets}, "__metadata__": {…}}`
/// padded with spaces to 8 bytes, then the tensors' bytes back to back. cnnspec stores float32 ("F32")
/// tensors under PyTorch `state_dict` names, so `safetensors.torch.load_file` reads them directly.
public enum SafetensorsFile {
    /// One named float32 tensor, row-major.
    public struct Tensor: Hashable, Sendable {
        public var shape: [Int]
        public var data: [Float]
        public init(shape: [Int], data: [Float]) { self.shape = shape; self.data = data }
    }

    /// A whole file: tensors by name plus the string metadata.
    public struct Contents: Sendable {
        public var tensors: [String: Tensor]
        public var metadata: [String: String]
    }

    /// The file's bytes for `tensors` (sorted by name in the data section) and `metadata`.
    /// Throws when a tensor's element count does not match its shape.
    public static func encode(tensors: [String: Tensor], metadata: [String: String]) throws(CheckpointError) -> Data {
        var header: [String] = []
        if !metadata.isEmpty {
            let fields = metadata.keys.sorted().map { "\(JSONText.quoted($0)):\(JSONText.quoted(metadata[$0] ?? ""))" }
            header.append("\"__metadata__\":{\(fields.joined(separator: ","))}")
        }
        var offset = 0
        let names = tensors.keys.sorted()
        for name in names {
            let tensor = tensors[name]!  // invariant: name comes from tensors.keys
            let count = tensor.shape.reduce(1, *)
            guard count == tensor.data.count, tensor.shape.allSatisfy({ $0 >= 0 }) else {
                throw CheckpointError(path: "(writing)", problem: "tensor '\(name)' has shape \(tensor.shape) but \(tensor.data.count) values")
            }
            let shape = tensor.shape.map(String.init).joined(separator: ",")
            header.append("\(JSONText.quoted(name)):{\"dtype\":\"F32\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(offset + 4 * count)]}")
            offset += 4 * count
        }
        var headerBytes = Array("{\(header.joined(separator: ","))}".utf8)
        while headerBytes.count % 8 != 0 { headerBytes.append(0x20) }
        var data = Data(capacity: 8 + headerBytes.count + offset)
        withUnsafeBytes(of: UInt64(headerBytes.count).littleEndian) { data.append(contentsOf: $0) }
        data.append(contentsOf: headerBytes)
        for name in names {
            tensors[name]!.data.withUnsafeBufferPointer { values in  // invariant: name comes from tensors.keys
                for value in values { withUnsafeBytes(of: value.bitPattern.littleEndian) { data.append(contentsOf: $0) } }
            }
        }
        return data
    }

    /// Writes the file atomically (temp file in the same folder, then rename).
    public static func write(tensors: [String: Tensor], metadata: [String: String], to url: URL) throws(CheckpointError) {
        let data: Data
        do {
            data = try encode(tensors: tensors, metadata: metadata)
        } catch {
            throw CheckpointError(path: url.path, problem: error.problem)
        }
        do {
            try AtomicFile.write(data, to: url)
        } catch {
            throw CheckpointError(path: url.path, problem: "cannot write: \(error.reason)")
        }
    }

    /// Reads and validates a file written by cnnspec or by `safetensors` (F32 tensors only).
    public static func read(from url: URL) throws(CheckpointError) -> Contents {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw CheckpointError(path: url.path, problem: "cannot read the file (missing or not readable)")
        }
        return try decode(data, path: url.path)
    }

    /// Parses the bytes of a safetensors file; `path` names it in errors.
    public static func decode(_ data: Data, path: String) throws(CheckpointError) -> Contents {
        func fail(_ problem: String) -> CheckpointError { CheckpointError(path: path, problem: problem) }
        guard data.count >= 8 else { throw fail("only \(data.count) bytes; a safetensors file starts with an 8-byte header length") }
        let bytes = [UInt8](data)
        var headerLength: UInt64 = 0
        for index in 0..<8 { headerLength |= UInt64(bytes[index]) << (8 * UInt64(index)) }
        guard headerLength <= UInt64(bytes.count - 8) else {
            throw fail("header length \(headerLength) runs past the end of the \(bytes.count)-byte file (truncated or not safetensors)")
        }
        let headerEnd = 8 + Int(headerLength)
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: Data(bytes[8..<headerEnd]))
        } catch {
            throw fail("the header is not valid JSON (corrupt or not a safetensors file)")
        }
        guard let header = json as? [String: Any] else { throw fail("the header is not a JSON object") }
        let dataSection = bytes.count - headerEnd
        var contents = Contents(tensors: [:], metadata: [:])
        var ranges: [(Int, Int, String)] = []
        for (name, value) in header {
            if name == "__metadata__" {
                guard let metadata = value as? [String: Any] else { throw fail("'__metadata__' is not an object") }
                for (key, entry) in metadata {
                    guard let text = entry as? String else { throw fail("metadata '\(key)' is not a string") }
                    contents.metadata[key] = text
                }
                continue
            }
            guard let entry = value as? [String: Any], let dtype = entry["dtype"] as? String,
                  let shape = (entry["shape"] as? [NSNumber])?.map(\.intValue),
                  let offsets = (entry["data_offsets"] as? [NSNumber])?.map(\.intValue), offsets.count == 2 else {
                throw fail("tensor '\(name)' lacks dtype, shape or data_offsets")
            }
            guard dtype == "F32" else { throw fail("tensor '\(name)' has dtype \(dtype); cnnspec reads F32 only") }
            guard shape.allSatisfy({ $0 >= 0 }) else { throw fail("tensor '\(name)' has a negative dimension \(shape)") }
            let count = shape.reduce(1, *)
            guard offsets[0] >= 0, offsets[1] >= offsets[0], offsets[1] <= dataSection else {
                throw fail("tensor '\(name)' data_offsets \(offsets) lie outside the \(dataSection)-byte data section (truncated?)")
            }
            guard offsets[1] - offsets[0] == 4 * count else {
                throw fail("tensor '\(name)' has shape \(shape) (\(4 * count) bytes) but data_offsets span \(offsets[1] - offsets[0]) bytes")
            }
            ranges.append((offsets[0], offsets[1], name))
            var values = [Float](repeating: 0, count: count)
            bytes.withUnsafeBytes { raw in
                for index in 0..<count {
                    let at = headerEnd + offsets[0] + 4 * index
                    values[index] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: UInt32.self)))
                }
            }
            contents.tensors[name] = Tensor(shape: shape, data: values)
        }
        ranges.sort { $0.0 < $1.0 }
        var expectedStart = 0
        for (start, end, name) in ranges {
            guard start == expectedStart else { throw fail("tensor '\(name)' starts at byte \(start), expected \(expectedStart) (overlapping or gapped data)") }
            expectedStart = end
        }
        guard expectedStart == dataSection else {
            throw fail("the data section has \(dataSection) bytes but the tensors cover \(expectedStart) (truncated or trailing bytes)")
        }
        return contents
    }
}

/// A checkpoint that could not be read or written, naming the file and the problem.
public struct CheckpointError: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var problem: String
    public init(path: String, problem: String) { self.path = path; self.problem = problem }
    public var description: String { "\(path): error: not a usable checkpoint: \(problem)" }
}
