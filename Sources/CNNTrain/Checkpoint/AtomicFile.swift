import CNNSpec
import Foundation

/// Writes files so that readers see either the old file or the complete new one, never a partial write.
public enum AtomicFile {
    /// Writes `data` to a temporary file in `url`'s folder, flushes and closes it, then renames it over `url`.
    /// Creates the folder if needed. Errors name the file. The write handle is close-on-exec and closed
    /// before the rename, so no process started meanwhile keeps `url` open for writing (which would make
    /// an executable written this way fail to start with "Text file busy").
    public static func write(_ data: Data, to url: URL) throws(FileWriteError) {
        let folder = url.deletingLastPathComponent()
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        } catch {
            throw FileWriteError(path: url.path, reason: "cannot create folder '\(folder.path)': \(error.localizedDescription)")
        }
        let temporary = folder.appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        let descriptor = open(temporary.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw FileWriteError(path: url.path, reason: "cannot create '\(temporary.path)': \(reason(errno: errno, in: folder))")
        }
        var failure = writeAll(data, to: descriptor)
        if failure == nil && fsync(descriptor) != 0 { failure = errno }
        close(descriptor)
        if failure == nil && rename(temporary.path, url.path) != 0 { failure = errno }
        if let failure {
            unlink(temporary.path)
            throw FileWriteError(path: url.path, reason: reason(errno: failure, in: folder))
        }
    }

    /// Writes all of `data` to `descriptor`; the `errno` of a failed write, nil when all was written.
    static func writeAll(_ data: Data, to descriptor: Int32) -> Int32? {
        data.withUnsafeBytes { bytes -> Int32? in
            var offset = 0
            while offset < bytes.count {
                let written = Foundation.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)  // invariant: count > 0
                if written < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                offset += written
            }
            return nil
        }
    }

    /// What a failed write's `errno` means, for the user: a full disk (ENOSPC) or quota (EDQUOT) says
    /// so and names the folder whose file system it is; anything else is the system's wording.
    public static func reason(errno code: Int32, in folder: URL) -> String {
        switch code {
        case ENOSPC: return "the disk is full (ENOSPC): no space left on the file system holding \(folder.path)"
        case EDQUOT: return "the disk quota is exceeded (EDQUOT) on the file system holding \(folder.path)"
        default: return String(cString: strerror(code))
        }
    }

    /// Whether `name` is one of this writer's temp files, `.NAME.tmp-PID-RAND`.
    public static func isTemporaryName(_ name: String) -> Bool {
        guard name.hasPrefix("."), let marker = name.range(of: ".tmp-", options: .backwards) else { return false }
        let parts = name[marker.upperBound...].split(separator: "-", omittingEmptySubsequences: false)
        return parts.count == 2 && parts.allSatisfy { !$0.isEmpty && $0.allSatisfy(\.isNumber) }
    }

    /// Writes `text` as UTF-8, atomically.
    public static func write(_ text: String, to url: URL) throws(FileWriteError) {
        try write(Data(text.utf8), to: url)
    }
}

/// A file that could not be written.
public struct FileWriteError: UserFacingError, Sendable {
    public var path: String
    public var reason: String
    public init(path: String, reason: String) { self.path = path; self.reason = reason }
    public var diagnostics: [Diagnostic] { [Diagnostic("cannot write: \(reason)", at: SourceLocation(file: path))] }
}
