import Foundation
import CNNSpec

/// Reads and writes the safetensors format (https://github.com/huggingface/safetensors): an 8-byte
/// little-endian header length, a JSON header `{name: {dtype, shape, data_offsets}, "__metadata__": {…}}`
/// padded with spaces to 8 bytes, then the tensors' bytes back to back. cnnspec stores float32 ("F32")
/// tensors under PyTorch `state_dict` names (and `num_batches_tracked` as I64, as PyTorch does), so
/// `safetensors.torch.load_file` reads them directly and `load_state_dict` accepts them; it reads
/// PyTorch's F16/BF16/F64/integer tensors by converting them to Float32.
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
            let count = tensor.data.count
            guard tensor.shape.allSatisfy({ $0 >= 0 }), CheckedArithmetic.elementCount(tensor.shape) == count else {
                throw CheckpointError(path: "(writing)", problem: "tensor '\(name)' has shape \(tensor.shape) but \(tensor.data.count) values")
            }
            let shape = tensor.shape.map(String.init).joined(separator: ",")
            let (dtype, size) = name.hasSuffix(integerTensorSuffix) ? ("I64", 8) : ("F32", 4)
            header.append("\(JSONText.quoted(name)):{\"dtype\":\"\(dtype)\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(offset + size * count)]}")
            offset += size * count
        }
        var headerBytes = Array("{\(header.joined(separator: ","))}".utf8)
        while headerBytes.count % 8 != 0 { headerBytes.append(0x20) }
        var data = Data(capacity: 8 + headerBytes.count + offset)
        withUnsafeBytes(of: UInt64(headerBytes.count).littleEndian) { data.append(contentsOf: $0) }
        data.append(contentsOf: headerBytes)
        for name in names {
            tensors[name]!.data.withUnsafeBufferPointer { values in  // invariant: name comes from tensors.keys
                if name.hasSuffix(integerTensorSuffix) {
                    for value in values { withUnsafeBytes(of: Int64(value.isFinite ? value.rounded() : 0).littleEndian) { data.append(contentsOf: $0) } }
                } else {
                    for value in values { withUnsafeBytes(of: value.bitPattern.littleEndian) { data.append(contentsOf: $0) } }
                }
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
            throw CheckpointError(path: url.path, problem: error.reason, isWrite: true)
        }
    }

    /// Reads and validates a file written by cnnspec or by `safetensors` (F32 tensors only).
    public static func read(from url: URL) throws(CheckpointError) -> Contents {
        try decode(try contents(of: url), path: url.path)
    }

    /// The bytes of a checkpoint file, or why it cannot be read (naming it).
    static func contents(of url: URL) throws(CheckpointError) -> Data {
        if let problem = unreadableFileProblem(url.path) {
            throw CheckpointError(path: url.path, problem: "cannot read the file: \(problem)")
        }
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw CheckpointError(path: url.path, problem: "cannot read the file (missing or not readable)")
        }
        return data
    }

    /// Headers larger than this are refused before they are read (the safetensors library's own limit).
    public static let maximumHeaderBytes: UInt64 = 100_000_000

    /// The element types read (converted to Float32 on load) and their sizes in bytes. PyTorch writes
    /// `num_batches_tracked` as I64, and half/double checkpoints as F16/BF16/F64.
    static let elementBytes: [String: Int] = ["F32": 4, "F16": 2, "BF16": 2, "F64": 8, "I64": 8, "I32": 4, "I16": 2,
                                              "I8": 1, "U8": 1]

    /// Tensors with this name suffix are written as I64, as PyTorch stores batch-norm step counters.
    static let integerTensorSuffix = ".num_batches_tracked"

    /// A JSON number read as a whole, non-negative 64-bit count: anything else says what it is.
    private enum WholeNumber { case value(UInt64), negative(String), fractional(String), tooLarge(String), notANumber }

    private static func wholeNumber(_ value: Any) -> WholeNumber {
        guard let number = value as? NSNumber else { return .notANumber }
        let text = number.stringValue
        if let exact = UInt64(text) { return .value(exact) }
        if text.hasPrefix("-") { return .negative(text) }
        if !text.isEmpty, text.allSatisfy({ $0.isASCII && $0.isNumber }) { return .tooLarge(text) }
        let double = number.doubleValue
        if double.isFinite, double == double.rounded(.towardZero), double >= 0 {
            return double < 0x1p64 ? .value(UInt64(double)) : .tooLarge(text)
        }
        return .fractional(text)
    }

    /// Parses the bytes of a safetensors file; `path` names it in errors. Every size in the header is
    /// checked against the file's length with overflow-checked arithmetic before anything is allocated.
    public static func decode(_ data: Data, path: String) throws(CheckpointError) -> Contents {
        func fail(_ problem: String) -> CheckpointError { CheckpointError(path: path, problem: problem) }
        guard data.count >= 8 else { throw fail("only \(data.count) bytes; a safetensors file starts with an 8-byte header length") }
        let bytes = [UInt8](data)
        var headerLength: UInt64 = 0
        for index in 0..<8 { headerLength |= UInt64(bytes[index]) << (8 * UInt64(index)) }
        guard headerLength <= maximumHeaderBytes else {
            throw fail("header length \(headerLength) exceeds the \(maximumHeaderBytes)-byte limit (corrupt or not safetensors)")
        }
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
        let dataSection = UInt64(bytes.count - headerEnd)
        var contents = Contents(tensors: [:], metadata: [:])
        var ranges: [(UInt64, UInt64, String)] = []
        for name in header.keys.sorted() {
            let value = header[name] as Any
            if name == "__metadata__" {
                guard let metadata = value as? [String: Any] else { throw fail("'__metadata__' is not an object") }
                for (key, entry) in metadata {
                    guard let text = entry as? String else { throw fail("metadata '\(key)' is not a string") }
                    contents.metadata[key] = text
                }
                continue
            }
            guard let entry = value as? [String: Any], let dtype = entry["dtype"] as? String,
                  let rawShape = entry["shape"] as? [Any], let rawOffsets = entry["data_offsets"] as? [Any],
                  rawOffsets.count == 2 else {
                throw fail("tensor '\(name)' lacks dtype, shape or data_offsets (or data_offsets is not two numbers)")
            }
            guard let size = elementBytes[dtype] else {
                throw fail("tensor '\(name)' has dtype \(dtype); cnnspec reads \(elementBytes.keys.sorted().joined(separator: ", "))")
            }
            var shape: [Int] = []
            var count: UInt64 = 1
            for (axis, raw) in rawShape.enumerated() {
                let dimension: UInt64
                switch wholeNumber(raw) {
                case .value(let value): dimension = value
                case .negative(let text): throw fail("tensor '\(name)' has a negative dimension \(text) at axis \(axis)")
                case .fractional(let text): throw fail("tensor '\(name)' has dimension \(text) at axis \(axis), which is not a whole number")
                case .tooLarge(let text): throw fail("tensor '\(name)' has dimension \(text) at axis \(axis), larger than any file")
                case .notANumber: throw fail("tensor '\(name)' has a shape entry at axis \(axis) that is not a number")
                }
                let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
                guard !overflow, dimension <= dataSection || count == 0 else {
                    throw fail("tensor '\(name)' shape \(rawShape.map { "\($0)" }) has more elements than the \(dataSection)-byte data section holds")
                }
                count = product
                shape.append(Int(dimension))
            }
            var offsets: [UInt64] = []
            for raw in rawOffsets {
                guard case .value(let offset) = wholeNumber(raw) else {
                    throw fail("tensor '\(name)' data_offsets \(rawOffsets.map { "\($0)" }) are not two whole non-negative numbers")
                }
                offsets.append(offset)
            }
            guard offsets[1] >= offsets[0], offsets[1] <= dataSection else {
                throw fail("tensor '\(name)' data_offsets [\(offsets[0]), \(offsets[1])] lie outside the \(dataSection)-byte data section (truncated?)")
            }
            let (byteCount, overflow) = count.multipliedReportingOverflow(by: UInt64(size))
            guard !overflow, offsets[1] - offsets[0] == byteCount else {
                throw fail("tensor '\(name)' has \(dtype) shape \(shape) (\(overflow ? "more than 2^64" : "\(byteCount)") bytes) but data_offsets span \(offsets[1] - offsets[0]) bytes")
            }
            ranges.append((offsets[0], offsets[1], name))
            let values = convert(bytes, from: headerEnd + Int(offsets[0]), count: Int(count), dtype: dtype)
            contents.tensors[name] = Tensor(shape: shape, data: values)
        }
        ranges.sort { $0.0 < $1.0 }
        var expectedStart: UInt64 = 0
        for (start, end, name) in ranges {
            guard start == expectedStart else { throw fail("tensor '\(name)' starts at byte \(start), expected \(expectedStart) (overlapping or gapped data)") }
            expectedStart = end
        }
        guard expectedStart == dataSection else {
            throw fail("the data section has \(dataSection) bytes but the tensors cover \(expectedStart) (truncated or trailing bytes)")
        }
        return contents
    }

    /// `count` little-endian elements of `dtype` at byte `start`, as Float32 (integers exactly up to 2^24).
    private static func convert(_ bytes: [UInt8], from start: Int, count: Int, dtype: String) -> [Float] {
        let size = elementBytes[dtype] ?? 4
        var values = [Float](repeating: 0, count: count)
        bytes.withUnsafeBytes { raw in
            for index in 0..<count { values[index] = element(raw, at: start + index * size, dtype: dtype) }
        }
        return values
    }

    /// The little-endian element of `dtype` (a key of `elementBytes`) at byte `offset` of `raw`, as Float32.
    /// The caller has checked that it lies inside `raw`.
    static func element(_ raw: UnsafeRawBufferPointer, at offset: Int, dtype: String) -> Float {
        func load<T: FixedWidthInteger>(_: T.Type) -> T { T(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: T.self)) }
        switch dtype {
        case "F16": return halfToFloat(load(UInt16.self))
        case "BF16": return Float(bitPattern: UInt32(load(UInt16.self)) << 16)
        case "F64": return Float(Double(bitPattern: load(UInt64.self)))
        case "I64": return Float(load(Int64.self))
        case "I32": return Float(load(Int32.self))
        case "I16": return Float(load(Int16.self))
        case "I8": return Float(load(Int8.self))
        case "U8": return Float(load(UInt8.self))
        default: return Float(bitPattern: load(UInt32.self))
        }
    }

    /// IEEE binary16 → binary32 (exact: every half value is a float).
    static func halfToFloat(_ bits: UInt16) -> Float {
        let sign = UInt32(bits & 0x8000) << 16
        let exponent = Int(bits >> 10) & 0x1F
        let mantissa = UInt32(bits & 0x3FF)
        let halfExponentBias = 15, floatExponentBias = 127
        switch exponent {
        case 0:
            let magnitude = Float(mantissa) * 0x1p-24  // subnormal (or zero)
            return sign != 0 ? -magnitude : magnitude
        case 0x1F:
            return Float(bitPattern: sign | 0x7F80_0000 | mantissa << 13)  // infinity or NaN
        default:
            return Float(bitPattern: sign | UInt32(exponent - halfExponentBias + floatExponentBias) << 23 | mantissa << 13)
        }
    }
}

/// A checkpoint that could not be read or written, naming the file and the problem.
public struct CheckpointError: UserFacingError, Sendable {
    public var path: String
    public var problem: String
    /// The file could not be written (a full disk, a read-only folder), as opposed to read.
    public var isWrite: Bool
    public init(path: String, problem: String, isWrite: Bool = false) {
        self.path = path; self.problem = problem; self.isWrite = isWrite
    }
    /// `PATH: error: not a usable checkpoint: …`, or `PATH: error: cannot write the checkpoint: …`.
    public var diagnostics: [Diagnostic] {
        [Diagnostic(isWrite ? "cannot write the checkpoint: \(problem)" : "not a usable checkpoint: \(problem)",
                    at: SourceLocation(file: path))]
    }
}
