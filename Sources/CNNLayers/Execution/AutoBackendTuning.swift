import CNNKernels
import Foundation

/// What `backend: auto` keeps between runs and tells the user, set once per process by the command line
/// (`configure`); a plan built without it (tests, libraries) times every candidate and says nothing.
///
/// The timings cache is one JSON file per user (`$XDG_CACHE_HOME/cnnspec/backend-timings.json`, else
/// `~/.cache/cnnspec/…`): per layer shape, kernel target and thread count, the milliseconds each backend
/// took. A second start-up with the same shapes times nothing. The file is read once, written with a
/// temporary file and a rename after a plan timed something new, and holds timings of this binary only
/// (its size and modification time are part of the file), since other kernels time differently. A damaged
/// file is ignored with a note and replaced.
public final class AutoBackendTuning: @unchecked Sendable {
    /// The process's settings; nil until the command line configures them.
    public static var shared: AutoBackendTuning? {
        get { lock.lock(); defer { lock.unlock() }; return current }
        set { lock.lock(); current = newValue; lock.unlock() }
    }
    nonisolated(unsafe) private static var current: AutoBackendTuning?
    private static let lock = NSLock()

    /// The cache file; nil keeps timings in memory only.
    public let cacheURL: URL?
    /// Receives what auto does (which layers it times, what it ruled out, cache notes).
    public let log: @Sendable (String) -> Void
    private let lock = NSLock()
    private var entries: [String: [String: Double]] = [:]
    private var loaded = false
    private var dirty = false

    /// Version of the file's layout; a file of another version is ignored.
    static let formatVersion = 1
    static let fileName = "backend-timings.json"
    /// At most this many layer shapes are kept (the oldest are not tracked: the file is simply capped).
    static let maximumEntries = 5000

    public init(cacheURL: URL?, log: @escaping @Sendable (String) -> Void) {
        self.cacheURL = cacheURL
        self.log = log
    }

    /// The per-user cache file: `$XDG_CACHE_HOME/cnnspec/backend-timings.json`, else `$HOME/.cache/cnnspec/…`;
    /// nil when neither variable names an absolute folder.
    public static func defaultCacheURL(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL? {
        if let xdg = environment["XDG_CACHE_HOME"], xdg.hasPrefix("/") {
            return URL(fileURLWithPath: xdg).appendingPathComponent("cnnspec").appendingPathComponent(fileName)
        }
        if let home = environment["HOME"], home.hasPrefix("/") {
            return URL(fileURLWithPath: home).appendingPathComponent(".cache/cnnspec").appendingPathComponent(fileName)
        }
        return nil
    }

    /// This binary's identity in the cache (size and modification time of the running executable).
    static let binaryStamp: String = {
        guard let path = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"),
              let attributes = try? FileManager.default.attributesOfItem(atPath: path) else { return "unknown" }
        let size = (attributes[.size] as? NSNumber)?.intValue ?? 0
        let modified = (attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
        return "\(size)-\(Int(modified))"
    }()

    /// The cache key of one layer's timing: its shape, whether its data gradient is timed, the kernel target and threads.
    static func key(_ geometry: ConvolutionGeometry, needsDataGradient: Bool, target: KernelTarget, threads: Int) -> String {
        let g = geometry
        return "n\(g.batch) c\(g.inChannels) \(g.inHeight)x\(g.inWidth) o\(g.outChannels) k\(g.kernelHeight)x\(g.kernelWidth)"
            + " s\(g.strideHeight)x\(g.strideWidth) p\(g.paddingTop),\(g.paddingBottom),\(g.paddingLeft),\(g.paddingRight)"
            + " d\(g.dilationHeight)x\(g.dilationWidth) g\(g.groups) \(g.paddingMode) dg\(needsDataGradient ? 1 : 0)"
            + " \(target.rawValue) t\(threads)"
    }

    /// The cached milliseconds per backend for `key`, when every backend in `backends` has one.
    func timings(for key: String, backends: [ConvolutionBackendKind]) -> [ConvolutionBackendKind: Double]? {
        lock.lock(); defer { lock.unlock() }
        loadIfNeeded()
        guard let stored = entries[key] else { return nil }
        var result: [ConvolutionBackendKind: Double] = [:]
        for backend in backends {
            guard let milliseconds = stored[backend.rawValue], milliseconds.isFinite, milliseconds >= 0 else { return nil }
            result[backend] = milliseconds
        }
        return result
    }

    /// Records measured timings; `save()` writes them.
    func store(_ timings: [ConvolutionBackendKind: Double], for key: String) {
        lock.lock(); defer { lock.unlock() }
        loadIfNeeded()
        guard entries.count < Self.maximumEntries || entries[key] != nil else { return }
        var stored = entries[key] ?? [:]
        for (backend, milliseconds) in timings { stored[backend.rawValue] = milliseconds }
        entries[key] = stored
        dirty = true
    }

    /// Writes the cache file when something new was timed (temporary file + rename; a failure is a note).
    public func save() {
        lock.lock(); defer { lock.unlock() }
        guard dirty, let cacheURL else { return }
        dirty = false
        let document: [String: Any] = ["format": Self.formatVersion, "binary": Self.binaryStamp, "timings": entries]
        do {
            try FileManager.default.createDirectory(at: cacheURL.deletingLastPathComponent(), withIntermediateDirectories: true)
            let data = try JSONSerialization.data(withJSONObject: document, options: [.sortedKeys])
            let temporary = cacheURL.deletingLastPathComponent()
                .appendingPathComponent(".\(cacheURL.lastPathComponent).\(ProcessInfo.processInfo.processIdentifier).tmp")
            try data.write(to: temporary)
            if rename(temporary.path, cacheURL.path) != 0 {
                try? FileManager.default.removeItem(at: temporary)
                throw CocoaError(.fileWriteUnknown)
            }
        } catch {
            log("note: could not write the backend timings cache \(cacheURL.path) (\(error.localizedDescription)); the next start times again")
        }
    }

    /// Reads the file once. A missing file is an empty cache; a damaged one, or one of another format or
    /// binary, is ignored (a damaged one with a note) and replaced at the next save.
    private func loadIfNeeded() {
        guard !loaded else { return }
        loaded = true
        guard let cacheURL, let data = try? Data(contentsOf: cacheURL) else { return }
        guard let document = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let timings = document["timings"] as? [String: Any] else {
            log("note: ignoring the damaged backend timings cache \(cacheURL.path); auto times the backends again and rewrites it")
            return
        }
        guard document["format"] as? Int == Self.formatVersion, document["binary"] as? String == Self.binaryStamp else { return }
        for (key, value) in timings.prefix(Self.maximumEntries) {
            guard let perBackend = value as? [String: Any] else { continue }
            var entry: [String: Double] = [:]
            for (backend, milliseconds) in perBackend {
                if let number = milliseconds as? NSNumber { entry[backend] = number.doubleValue }
            }
            entries[key] = entry
        }
    }
}
