import CNNSpec
import Foundation

/// The folder a run writes: resolved config, log, metrics, checkpoints, resume state and summary.
///
/// Every file a user keeps is written atomically (temp file + rename); the log is append-only.
public final class RunFolder {
    public let url: URL
    private let logHandle: FileHandle?

    public static let configFile = "config.yaml"
    public static let metricsFile = "metrics.csv"
    public static let logFile = "train.log"
    public static let resumeFile = "resume.safetensors"
    public static let summaryFile = "summary.json"

    /// Opens (creating if needed) the folder at `url`.
    public init(url: URL) throws(FileWriteError) {
        self.url = url
        do {
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        } catch {
            throw FileWriteError(path: url.path, reason: "cannot create the run folder (\(error.localizedDescription))")
        }
        let logURL = url.appendingPathComponent(Self.logFile)
        if !FileManager.default.fileExists(atPath: logURL.path) {
            FileManager.default.createFile(atPath: logURL.path, contents: nil)
        }
        logHandle = try? FileHandle(forWritingTo: logURL)
        _ = try? logHandle?.seekToEnd()
    }

    deinit { try? logHandle?.close() }

    /// A new folder `runs/<name>/<timestamp>` under `base` (or `directory` when the config names one).
    public static func create(for config: RunConfig, base: URL, date: Date = Date()) throws(FileWriteError) -> RunFolder {
        if let directory = config.output.directory {
            return try RunFolder(url: URL(fileURLWithPath: directory, relativeTo: base).standardizedFileURL)
        }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "yyyyMMdd-HHmmss"
        var url = base.appendingPathComponent("runs").appendingPathComponent(config.name)
            .appendingPathComponent(formatter.string(from: date))
        var suffix = 2
        while FileManager.default.fileExists(atPath: url.path) {
            url = url.deletingLastPathComponent().appendingPathComponent(formatter.string(from: date) + "-\(suffix)")
            suffix += 1
        }
        return try RunFolder(url: url)
    }

    /// The path of a file in the folder.
    public func file(_ name: String) -> URL { url.appendingPathComponent(name) }

    /// Appends one line to `train.log`.
    public func log(_ line: String) {
        logHandle?.write(Data((line + "\n").utf8))
    }

    /// Writes `text` to `name` atomically.
    public func write(_ text: String, to name: String) throws(FileWriteError) {
        try AtomicFile.write(text, to: file(name))
    }
}
