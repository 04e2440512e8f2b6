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

    /// The lock file: `flock`ed exclusively while a process writes the folder.
    public static let lockFile = ".cnnspec.lock"
    /// Files that show a folder already holds a run.
    static let runMarkers = [configFile, metricsFile, resumeFile, summaryFile, "last.safetensors"]

    /// How a folder that may already hold a run is opened.
    public enum OpenMode: Sendable {
        /// A new run: a folder that already holds one is refused.
        case fresh
        /// A new run replacing whatever run the folder holds (`--overwrite`): its files are removed.
        case overwrite
        /// Continue (or read) the run the folder holds (`--resume`).
        case continuing
    }

    /// Open descriptor of the lock file; its exclusive `flock` lasts as long as this object.
    private let lockDescriptor: Int32

    /// Opens (creating if needed) the folder at `url` and takes its exclusive lock: two processes
    /// writing one run folder would interleave metrics.csv and mix configs. The kernel drops a
    /// `flock` when its process dies, however it dies, so a lock left by a killed run is never stale.
    /// Temp files left by a kill during an atomic write are removed.
    public init(url: URL, mode: OpenMode = .continuing) throws(FileWriteError) {
        self.url = url
        do {
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        } catch {
            throw FileWriteError(path: url.path, reason: "cannot create the run folder (\(error.localizedDescription))")
        }
        lockDescriptor = try Self.lock(url)
        let fail = { [lockDescriptor] (reason: String) -> FileWriteError in
            close(lockDescriptor)
            return FileWriteError(path: url.path, reason: reason)
        }
        let manager = FileManager.default
        switch mode {
        case .fresh:
            if let marker = Self.runMarkers.first(where: { manager.fileExists(atPath: url.appendingPathComponent($0).path) }) {
                guard manager.fileExists(atPath: url.appendingPathComponent(Self.resumeFile).path) else {
                    throw fail("the folder already holds a run (\(marker)) with no resume state to continue from (\(Self.noResumeState)); "
                               + "start over with --overwrite, or choose another output.dir")
                }
                throw fail("the folder already holds a run (\(marker)); continue it with `cnnspec run --resume \(url.path)`, "
                           + "start over with --overwrite, or choose another output.dir")
            }
        case .overwrite:
            let names = (try? manager.contentsOfDirectory(atPath: url.path)) ?? []
            for name in names where Self.isRunFile(name) {
                do { try manager.removeItem(at: url.appendingPathComponent(name)) } catch {
                    throw fail("--overwrite cannot remove \(name): \(error.localizedDescription)")
                }
            }
        case .continuing:
            break
        }
        Self.removeStaleTemporaryFiles(in: url)
        let logPath = url.appendingPathComponent(Self.logFile).path
        // O_NOFOLLOW: a symlink planted as train.log must not redirect the log into another file.
        let descriptor = open(logPath, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw fail("cannot open \(Self.logFile): \(String(cString: strerror(errno)))"
                       + (errno == ELOOP ? " (it is a symbolic link; remove it)" : ""))
        }
        logHandle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
    }

    deinit {
        try? logHandle?.close()
        close(lockDescriptor)
    }

    /// Files a run writes (what --overwrite removes): never anything else the user keeps there.
    static func isRunFile(_ name: String) -> Bool {
        [configFile, metricsFile, logFile, resumeFile, summaryFile, "best.safetensors", "last.safetensors", "report.html"]
            .contains(name) || (name.hasPrefix("epoch-") && name.hasSuffix(".safetensors"))
            || name.hasPrefix(TensorBoardEvents.filePrefix)
    }

    /// Opens and exclusively locks the folder's lock file (recording this process id in it), or
    /// throws naming the process that holds it.
    private static func lock(_ url: URL) throws(FileWriteError) -> Int32 {
        let path = url.appendingPathComponent(lockFile).path
        let descriptor = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw FileWriteError(path: url.path, reason: "cannot open the lock file \(lockFile): \(String(cString: strerror(errno)))")
        }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            var buffer = [UInt8](repeating: 0, count: 32)
            let count = pread(descriptor, &buffer, buffer.count, 0)
            let holder = count > 0 ? String(decoding: buffer[0..<count], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) : ""
            close(descriptor)
            throw FileWriteError(path: url.path, reason: "the run folder is in use by another cnnspec process"
                                 + (holder.isEmpty ? "" : " (pid \(holder))") + "; wait for it to finish or stop it first")
        }
        let pid = Array("\(getpid())\n".utf8)
        _ = ftruncate(descriptor, 0)
        _ = pwrite(descriptor, pid, pid.count, 0)
        return descriptor
    }

    /// Removes `.NAME.tmp-PID-RAND` files (AtomicFile's temp files) left by a process killed while
    /// writing. Under the folder's lock no other process writes here, so every one of them is stale.
    private static func removeStaleTemporaryFiles(in url: URL) {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []
        for name in names where AtomicFile.isTemporaryName(name) {
            try? FileManager.default.removeItem(at: url.appendingPathComponent(name))
        }
    }

    /// A new folder `runs/<name>/<timestamp>` under `base` (or `directory` when the config names one).
    public static func create(for config: RunConfig, base: URL, date: Date = Date(),
                              overwrite: Bool = false) throws(FileWriteError) -> RunFolder {
        try RunFolder(url: newURL(for: config, base: base, date: date), mode: overwrite ? .overwrite : .fresh)
    }

    /// Where `create` puts a new run: `output.dir` (relative to `base`), else `runs/<name>/<timestamp>` under
    /// `base`, with a suffix when that exists.
    public static func newURL(for config: RunConfig, base: URL, date: Date = Date()) -> URL {
        if let directory = config.output.directory {
            return URL(fileURLWithPath: directory, relativeTo: base).standardizedFileURL
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
        return url
    }

    /// Why a run folder can hold a run but no resume file.
    static let noResumeState = "the run finished, or was stopped before its first save, which comes every "
        + "train.checkpoint_every and on Ctrl-C"

    /// Why `url` cannot be resumed, with how to go on, when it has no resume file; nil when it has one.
    public static func resumeProblem(at url: URL) -> UserError? {
        let manager = FileManager.default
        guard !manager.fileExists(atPath: url.appendingPathComponent(resumeFile).path) else { return nil }
        guard runMarkers.contains(where: { manager.fileExists(atPath: url.appendingPathComponent($0).path) }) else {
            return UserError("not a run folder: it holds none of \(runMarkers.joined(separator: ", "))", file: url.path,
                             hint: "give the folder `cnnspec run` printed as 'run folder:', e.g. runs/<name>/<timestamp>")
        }
        let config = url.appendingPathComponent(configFile)
        let startOver = manager.fileExists(atPath: config.path)
            ? "start it over with `cnnspec run \(config.path) --set output.dir=\(url.path) --overwrite`"
            : "start it over from its config with `--set output.dir=\(url.path) --overwrite`"
        return UserError("nothing to resume: the run saved no \(resumeFile) (\(noResumeState))", file: url.path,
                         hint: startOver)
    }

    /// For a folder whose run finished (summary.json with test figures, not interrupted, not diverged;
    /// an early-stopped run has finished),
    /// a short description of it ("test accuracy 96.54%"); nil otherwise. Reads only.
    public static func finishedSummary(at url: URL) -> String? {
        guard let text = try? String(contentsOf: url.appendingPathComponent(summaryFile), encoding: .utf8),
              text.contains("\"interrupted\": false"), !text.contains("\"test_accuracy\": null"),
              !text.contains("\"stop_reason\": \"diverged") else { return nil }
        let accuracy = text.split(separator: "\n").first { $0.contains("\"test_accuracy\"") }
            .flatMap { $0.split(separator: ":").last }
            .flatMap { Double($0.trimmingCharacters(in: CharacterSet(charactersIn: " ,"))) }
        return accuracy.map { String(format: "test accuracy %.2f%%", $0 * 100) } ?? "summary.json has its test figures"
    }

    /// Removes what a run that failed to start wrote (its run files, class names and lock file), and the
    /// folder itself when nothing else is left in it, so a rerun is not refused as "already holds a run".
    /// Files the run did not write stay. Returns whether the folder is gone.
    @discardableResult
    public func discardFailedStart() -> Bool {
        let manager = FileManager.default
        try? logHandle?.close()
        let names = (try? manager.contentsOfDirectory(atPath: url.path)) ?? []
        for name in names where Self.isRunFile(name) || name == PredictionInfo.classNamesFile || name == Self.lockFile
            || AtomicFile.isTemporaryName(name) {
            try? manager.removeItem(at: url.appendingPathComponent(name))
        }
        guard (try? manager.contentsOfDirectory(atPath: url.path))?.isEmpty == true else { return false }
        return (try? manager.removeItem(at: url)) != nil
    }

    /// The path of a file in the folder.
    public func file(_ name: String) -> URL { url.appendingPathComponent(name) }

    /// Appends one line to `train.log`. A line that cannot be written (a full disk) is skipped: the
    /// legacy `FileHandle.write(_:)` traps on errors, and the saves that matter report the disk themselves.
    public func log(_ line: String) {
        try? logHandle?.write(contentsOf: Data((line + "\n").utf8))
    }

    /// Writes `text` to `name` atomically.
    public func write(_ text: String, to name: String) throws(FileWriteError) {
        try AtomicFile.write(text, to: file(name))
    }
}
