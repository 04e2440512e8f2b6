import CNNSpec
import Foundation

/// Reads NumPy `.npy` arrays (format versions 1–3) of the element types datasets use, and the
/// `x_train.npy`/`y_train.npy`/`x_test.npy`/`y_test.npy` dataset made of them.
///
/// The header is a Python dict literal `{'descr': '<f4', 'fortran_order': False, 'shape': (N, H, W), }`;
/// it is parsed field by field, every dimension multiplied with overflow checks and compared with the
/// file's size before any buffer is allocated.
public enum NPYFile {
    /// The element types read, with their byte sizes.
    public enum ElementType: String, Sendable {
        case uint8 = "u1", int32 = "i4", int64 = "i8", float32 = "f4", float64 = "f8"
        var bytes: Int { switch self { case .uint8: 1; case .int32, .float32: 4; case .int64, .float64: 8 } }
    }

    /// A parsed header and where the data starts.
    public struct Header: Sendable, Equatable {
        public var type: ElementType
        public var shape: [Int]
        public var dataOffset: Int
        public var count: Int
    }

    static let magic: [UInt8] = [0x93] + Array("NUMPY".utf8)
    /// Larger headers are refused (NumPy writes a few hundred bytes).
    static let maximumHeaderBytes = 1 << 20
    /// Larger files are refused before they are read (float64 images of a few GiB decoded to uint8).
    static let maximumFileBytes = 16 << 30

    /// Parses the header of `bytes` (the whole file); `path` names it in errors.
    public static func header(_ bytes: [UInt8], path: String) throws(DataError) -> Header {
        func fail(_ problem: String) -> DataError {
            DataError("\(path): \(problem)", hint: "write it with numpy.save(path, array) (uint8/float32 images, int64/int32/uint8 labels)")
        }
        guard bytes.count >= 10, Array(bytes[0..<6]) == magic else { throw fail("not a .npy file (the \\x93NUMPY signature is missing)") }
        let major = bytes[6]
        let lengthBytes: Int
        switch major {
        case 1: lengthBytes = 2
        case 2, 3: lengthBytes = 4
        default: throw fail("unsupported .npy format version \(major) (1, 2 or 3 are read)")
        }
        guard bytes.count >= 8 + lengthBytes else { throw fail("truncated header") }
        var headerLength = 0
        for index in 0..<lengthBytes { headerLength |= Int(bytes[8 + index]) << (8 * index) }
        let start = 8 + lengthBytes
        guard headerLength <= maximumHeaderBytes, headerLength <= bytes.count - start else {
            throw fail("header length \(headerLength) runs past the end of the \(bytes.count)-byte file (truncated?)")
        }
        let text = String(decoding: bytes[start..<(start + headerLength)], as: UTF8.self)
        guard let descr = field("descr", in: text)?.trimmingCharacters(in: CharacterSet(charactersIn: "'\" ")) else {
            throw fail("the header has no 'descr' (element type): \(text.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        let order = descr.first.map(String.init) ?? ""
        guard ["<", "|", "="].contains(order) || descr.count == 2 else {
            throw fail("element type '\(descr)' is big-endian; save the array as little-endian (array.astype('<f4'))")
        }
        let code = ["<", "|", "=", ">"].contains(order) ? String(descr.dropFirst()) : descr
        guard let type = ElementType(rawValue: code) else {
            throw fail("element type '\(descr)' is not supported; use uint8 or float32 images and int64, int32 or uint8 labels")
        }
        guard let fortran = field("fortran_order", in: text)?.trimmingCharacters(in: .whitespaces) else {
            throw fail("the header has no 'fortran_order'")
        }
        guard fortran == "False" else { throw fail("the array is in Fortran order; save numpy.ascontiguousarray(array)") }
        guard let shapeText = field("shape", in: text), shapeText.hasPrefix("("), shapeText.hasSuffix(")") else {
            throw fail("the header has no 'shape' tuple")
        }
        var shape: [Int] = []
        var count = 1
        for part in shapeText.dropFirst().dropLast().split(separator: ",") {
            let trimmed = part.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { continue }
            guard let dimension = Int(trimmed), dimension >= 0 else { throw fail("shape \(shapeText) has '\(trimmed)', not a dimension") }
            let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
            guard !overflow else { throw fail("shape \(shapeText) has more elements than any file") }
            count = product
            shape.append(dimension)
        }
        let dataOffset = start + headerLength
        let (dataBytes, overflow) = count.multipliedReportingOverflow(by: type.bytes)
        guard !overflow, dataBytes == bytes.count - dataOffset else {
            throw fail("shape \(shapeText) of '\(descr)' needs \(overflow ? "more than 2^63" : "\(dataBytes)") data bytes but the file has \(bytes.count - dataOffset) (truncated or not this shape)")
        }
        return Header(type: type, shape: shape, dataOffset: dataOffset, count: count)
    }

    /// The text of `key`'s value in a Python dict literal (up to the next top-level comma).
    private static func field(_ key: String, in text: String) -> String? {
        for quote in ["'", "\""] {
            guard let range = text.range(of: "\(quote)\(key)\(quote)") else { continue }
            var rest = text[range.upperBound...].drop { $0 == " " }
            guard rest.first == ":" else { return nil }
            rest = rest.dropFirst().drop { $0 == " " }
            var depth = 0
            var value = ""
            for character in rest {
                if character == "(" { depth += 1 }
                if character == ")" { depth -= 1 }
                if depth == 0 && (character == "," || character == "}") { break }
                value.append(character)
            }
            return value.trimmingCharacters(in: .whitespaces)
        }
        return nil
    }

    /// Reads `path` (refusing files over `maximumFileBytes` before reading).
    static func read(path: String) throws(DataError) -> (Header, [UInt8]) {
        let missing = DataError("\(path): cannot read the file (missing or not readable)",
                                hint: "an npy dataset needs x_train.npy, y_train.npy, x_test.npy and y_test.npy in data.root")
        if let problem = unreadableFileProblem(path) {
            throw DataError("\(path): cannot read the file: \(problem)", hint: missing.hint)
        }
        let attributes = try? FileManager.default.attributesOfItem(atPath: path)
        guard let size = (attributes?[.size] as? NSNumber)?.intValue else { throw missing }
        guard size <= maximumFileBytes else {
            throw DataError("\(path): \(size) bytes is larger than the \(maximumFileBytes >> 30) GiB cnnspec loads")
        }
        guard let data = FileManager.default.contents(atPath: path) else { throw missing }
        let bytes = [UInt8](data)
        return (try header(bytes, path: path), bytes)
    }

    /// Loads `root/x_train.npy` … as datasets: images N×H×W, N×C×H×W or N×H×W×C (C = 1 or 3), uint8
    /// as is, float32/float64 in [0, 1] scaled by 255 (other ranges clamped to 0…255); labels 0…K−1,
    /// class names "0"…"K−1".
    public static func loadDataset(root: String) throws(DataError) -> (train: Dataset, test: Dataset) {
        func path(_ name: String) -> String { (root as NSString).appendingPathComponent(name) }
        let trainLabels = try labels(path: path("y_train.npy"))
        let testLabels = try labels(path: path("y_test.npy"))
        let classCount = Int(max(trainLabels.max() ?? 0, testLabels.max() ?? 0)) + 1
        let names = (0..<classCount).map(String.init)
        let train = try images(path: path("x_train.npy"), labels: trainLabels, labelPath: path("y_train.npy"), classNames: names, split: "train")
        let test = try images(path: path("x_test.npy"), labels: testLabels, labelPath: path("y_test.npy"), classNames: names, split: "test")
        guard train.channels == test.channels, train.height == test.height, train.width == test.width else {
            throw DataError("\(path("x_train.npy")) holds \(train.channels)×\(train.height)×\(train.width) images but \(path("x_test.npy")) holds \(test.channels)×\(test.height)×\(test.width)")
        }
        return (train, test)
    }

    /// Labels: a 1-D (or N×1) integer array with values ≥ 0.
    static func labels(path: String) throws(DataError) -> [Int32] {
        let (header, bytes) = try read(path: path)
        guard header.shape.count == 1 || (header.shape.count == 2 && header.shape[1] == 1) else {
            throw DataError("\(path): labels must be a 1-D array of N class indices, found shape \(header.shape)")
        }
        guard [.int64, .int32, .uint8].contains(header.type) else {
            throw DataError("\(path): labels must be int64, int32 or uint8, found \(header.type)")
        }
        var labels = [Int32](repeating: 0, count: header.count)
        var problem: (Int, Int64)?
        bytes.withUnsafeBytes { raw in
            for index in 0..<header.count {
                let at = header.dataOffset + index * header.type.bytes
                let value: Int64
                switch header.type {
                case .int64: value = Int64(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: Int64.self))
                case .int32: value = Int64(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: Int32.self)))
                default: value = Int64(raw[at])
                }
                if (value < 0 || value > Int64(Dataset.maximumClasses)) && problem == nil { problem = (index, value) }
                labels[index] = Int32(clamping: value)
            }
        }
        if let (index, value) = problem {
            throw DataError("\(path): label \(index) is \(value); labels must be class indices 0…\(Dataset.maximumClasses)")
        }
        return labels
    }

    static func images(path: String, labels: [Int32], labelPath: String, classNames: [String], split: String) throws(DataError) -> Dataset {
        let (header, bytes) = try read(path: path)
        let shape = header.shape
        let channels, height, width: Int
        var channelsLast = false
        switch shape.count {
        case 3: (channels, height, width) = (1, shape[1], shape[2])
        case 4 where [1, 3].contains(shape[1]): (channels, height, width) = (shape[1], shape[2], shape[3])
        case 4 where [1, 3].contains(shape[3]): (channels, height, width) = (shape[3], shape[1], shape[2]); channelsLast = true
        default:
            throw DataError("\(path): images must be N×H×W, N×C×H×W or N×H×W×C with C = 1 or 3, found shape \(shape)")
        }
        guard [.uint8, .float32, .float64].contains(header.type) else {
            throw DataError("\(path): images must be uint8 or float32, found \(header.type)")
        }
        guard shape[0] == labels.count else {
            throw DataError("\(path) has \(shape[0]) images but \(labelPath) has \(labels.count) labels",
                            hint: "the two files belong to different sets")
        }
        let count = shape[0], plane = height * width, sampleSize = channels * plane
        var floats = false
        var maximum = 0.0
        if header.type != .uint8 {
            floats = true
            bytes.withUnsafeBytes { raw in
                for index in 0..<header.count { maximum = max(maximum, value(raw, header, index)) }
            }
        }
        let factor = floats && maximum <= 1 ? 255.0 : 1.0
        var pixels = [UInt8](repeating: 0, count: count * sampleSize)
        bytes.withUnsafeBytes { raw in
            for sample in 0..<count {
                for channel in 0..<channels {
                    for index in 0..<plane {
                        let source = channelsLast ? (sample * plane + index) * channels + channel : (sample * channels + channel) * plane + index
                        let target = (sample * channels + channel) * plane + index
                        if floats {
                            let scaled = (value(raw, header, source) * factor).rounded()
                            pixels[target] = UInt8(scaled.isNaN ? 0 : min(255, max(0, scaled)))
                        } else {
                            pixels[target] = raw[header.dataOffset + source]
                        }
                    }
                }
            }
        }
        return try Dataset(name: "npy \(split)", images: pixels, labels: labels, channels: channels, height: height, width: width,
                           classNames: classNames)
    }

    private static func value(_ raw: UnsafeRawBufferPointer, _ header: Header, _ index: Int) -> Double {
        let at = header.dataOffset + index * header.type.bytes
        switch header.type {
        case .float64: return Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: UInt64.self)))
        default: return Double(Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: UInt32.self))))
        }
    }
}
