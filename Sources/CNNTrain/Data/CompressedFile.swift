import CNNSpec
import CZlib
import Foundation

/// Reads a whole file into memory, inflating it with the system zlib when it is gzip-compressed
/// (recognised by its magic bytes, whatever the file name).
///
/// Every read is bounded before memory is committed: a few-megabyte gzip bomb must not inflate to
/// gigabytes. Callers either give a fixed ceiling, or a header size and a function that turns the
/// header into the exact size the file declares; inflating stops with an error as soon as the data
/// runs past it.
enum CompressedFile {
    /// Bytes inflated per `gzread` call.
    private static let chunkBytes = 1 << 20

    /// Ceiling of `contents(of:)`: 1 GiB, above any dataset file cnnspec reads (CIFAR-10's batches
    /// are 30 MB) and below what would exhaust a workstation.
    static let largestFileBytes = 1 << 30

    /// The whole file, at most `largestFileBytes` once inflated.
    static func contents(of path: String) throws(DataError) -> [UInt8] {
        try contents(of: path, maximumBytes: largestFileBytes)
    }

    /// The whole file, refused once it exceeds `maximumBytes`.
    static func contents(of path: String, maximumBytes: Int) throws(DataError) -> [UInt8] {
        let file = try open(path)
        defer { gzclose(file) }
        // One byte past the ceiling tells "at most the ceiling" from "too large".
        let bytes = try read(file, path: path, upTo: maximumBytes + 1)
        guard bytes.count <= maximumBytes else {
            throw DataError("\(path): larger than the \(maximumBytes) bytes such a file can be (once inflated)",
                            hint: "the file is corrupt or not a dataset file")
        }
        return bytes
    }

    /// The whole file, whose first `headerBytes` bytes declare its total size (`declaredSize` reads
    /// them and throws when the declaration itself is unacceptable). A file shorter than
    /// `headerBytes` is returned as it is (the caller reports it); one with more data than declared
    /// is refused while reading, before the excess is held in memory.
    static func contents(of path: String, headerBytes: Int,
                         declaredSize: ([UInt8]) throws(DataError) -> Int) throws(DataError) -> [UInt8] {
        let file = try open(path)
        defer { gzclose(file) }
        var result = try read(file, path: path, upTo: headerBytes)
        guard result.count == headerBytes else { return result }
        let total = try declaredSize(result)
        // One byte past the declared size tells "exactly as declared" from "more than declared".
        let rest = try read(file, path: path, upTo: total - headerBytes + 1)
        if rest.count > total - headerBytes {
            throw DataError("\(path): the file holds more data than its header declares (\(total) bytes)",
                            hint: "the file is corrupt or not what its header says; fetch it again")
        }
        result += rest
        return result
    }

    /// The file opened for inflating, once it is known to be a regular readable file (a FIFO would
    /// block `gzopen` forever).
    private static func open(_ path: String) throws(DataError) -> gzFile {
        if let problem = unreadableFileProblem(path) {
            throw DataError("\(path): cannot read the file: \(problem)")
        }
        guard let file = gzopen(path, "rb") else {
            throw DataError("\(path): cannot read the file (missing or not readable)")
        }
        return file
    }

    /// Reads (inflating if needed) at most `limit` bytes.
    private static func read(_ file: gzFile, path: String, upTo limit: Int) throws(DataError) -> [UInt8] {
        var result: [UInt8] = []
        result.reserveCapacity(min(limit, chunkBytes))
        var chunk = [UInt8](repeating: 0, count: chunkBytes)
        while result.count < limit {
            let wanted = min(chunk.count, limit - result.count)
            let read = chunk.withUnsafeMutableBytes { gzread(file, $0.baseAddress, UInt32(wanted)) }
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
