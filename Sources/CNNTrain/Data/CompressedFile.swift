import CZlib
import Foundation

/// Reads a whole file into memory, inflating it with the system zlib when it is gzip-compressed
/// (recognised by its magic bytes, whatever the file name).
enum CompressedFile {
    static func contents(of path: String) throws(DataError) -> [UInt8] {
        guard let raw = FileManager.default.contents(atPath: path) else {
            throw DataError("\(path): cannot read the file (missing or not readable)")
        }
        guard raw.count >= 2, raw[raw.startIndex] == 0x1f, raw[raw.startIndex + 1] == 0x8b else { return [UInt8](raw) }
        guard let file = gzopen(path, "rb") else { throw DataError("\(path): zlib cannot open the gzip file") }
        defer { gzclose(file) }
        var result: [UInt8] = []
        result.reserveCapacity(raw.count * 4)
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let read = chunk.withUnsafeMutableBytes { gzread(file, $0.baseAddress, UInt32($0.count)) }
            if read < 0 {
                var code: Int32 = 0
                let message = gzerror(file, &code).map { String(cString: $0) } ?? "unknown zlib error"
                throw DataError("\(path): the gzip data is corrupt or truncated (\(message))",
                                hint: "delete the file and fetch it again")
            }
            if read == 0 { break }
            result.append(contentsOf: chunk[0..<Int(read)])
        }
        return result
    }
}
