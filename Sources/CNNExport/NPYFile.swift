import CNNTrain
import Foundation

/// Writes NumPy `.npy` files (format 1.0: magic, a Python-dict header padded to 64 bytes, raw data), the
/// simplest file `numpy.load` reads, for the reference inputs and logits that check an export.
public enum NPYFile {
    /// The header and payload alignment the format asks for.
    static let alignment = 64

    /// The bytes of a little-endian float32 array of `shape`. Throws when the count does not match.
    public static func encode(_ values: [Float], shape: [Int]) throws(FileWriteError) -> Data {
        guard shape.reduce(1, *) == values.count else {
            throw FileWriteError(path: "(npy)", reason: "\(values.count) values for shape \(shape)")
        }
        let shapeText = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': \(shapeText), }"
        let prefixLength = 10  // magic (6), version (2), header length (2)
        while (prefixLength + header.utf8.count + 1) % alignment != 0 { header += " " }
        header += "\n"
        var data = Data([0x93] + Array("NUMPY".utf8) + [1, 0])
        withUnsafeBytes(of: UInt16(header.utf8.count).littleEndian) { data.append(contentsOf: $0) }
        data.append(contentsOf: Array(header.utf8))
        #if _endian(little)
        values.withUnsafeBytes { data.append(contentsOf: $0) }
        #else
        values.map { $0.bitPattern.littleEndian }.withUnsafeBytes { data.append(contentsOf: $0) }
        #endif
        return data
    }

    /// Writes the array atomically.
    public static func write(_ values: [Float], shape: [Int], to url: URL) throws(FileWriteError) {
        let data: Data
        do {
            data = try encode(values, shape: shape)
        } catch {
            throw FileWriteError(path: url.path, reason: error.reason)
        }
        try AtomicFile.write(data, to: url)
    }
}
