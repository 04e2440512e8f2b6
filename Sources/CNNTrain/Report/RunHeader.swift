import CNNSpec
import Foundation

/// Where and with what a run was trained: written into summary.json and shown at the top of each run
/// in the report.
public struct RunHeader: Sendable, Equatable {
    /// When summary.json was written (the end of the run), ISO 8601 in UTC.
    public var date: String
    public var host: String
    public var version: String
    /// The checkout's commit (`CNNSpecVersion.gitCommit`); nil when not built from a checkout.
    public var gitCommit: String?
    public var threads: Int
    /// The kernel target the plan ran (`KernelTarget.description`, e.g. `avx2 6×16`); "?" for older runs.
    public var kernels: String
    /// Backend per conv layer, in layer order.
    public var backends: [(layer: String, backend: String)]

    public static func == (a: RunHeader, b: RunHeader) -> Bool {
        a.date == b.date && a.host == b.host && a.version == b.version && a.gitCommit == b.gitCommit
            && a.threads == b.threads && a.kernels == b.kernels && a.backends.map(\.layer) == b.backends.map(\.layer)
            && a.backends.map(\.backend) == b.backends.map(\.backend)
    }

    public init(date: String, host: String, version: String, gitCommit: String?, threads: Int, kernels: String,
                backends: [(layer: String, backend: String)]) {
        self.date = date; self.host = host; self.version = version; self.gitCommit = gitCommit
        self.threads = threads; self.kernels = kernels; self.backends = backends
    }

    /// This process, now.
    public static func current(threads: Int, kernels: String, backends: [(layer: String, backend: String)],
                               date: Date = Date()) -> RunHeader {
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(identifier: "UTC")
        return RunHeader(date: formatter.string(from: date), host: ProcessInfo.processInfo.hostName,
                         version: CNNSpecVersion.string, gitCommit: CNNSpecVersion.gitCommit, threads: threads, kernels: kernels, backends: backends)
    }

    /// The summary.json keys (`git_commit` only when known), as `"key": value` texts.
    public var jsonFields: [(key: String, value: String)] {
        var fields = [("date", JSONText.quoted(date)), ("host", JSONText.quoted(host)), ("cnnspec_version", JSONText.quoted(version))]
        if let gitCommit { fields.append(("git_commit", JSONText.quoted(gitCommit))) }
        fields.append(("threads", "\(threads)"))
        fields.append(("kernel_target", JSONText.quoted(kernels)))
        fields.append(("backends", "{" + backends.map { "\(JSONText.quoted($0.layer)): \(JSONText.quoted($0.backend))" }
            .joined(separator: ", ") + "}"))
        return fields
    }

    /// Reads the keys back from summary.json text; nil when the run predates them (no date or host).
    public init?(summaryJSON text: String) {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any],
              let date = object["date"] as? String, let host = object["host"] as? String else { return nil }
        self.date = date
        self.host = host
        version = object["cnnspec_version"] as? String ?? "?"
        gitCommit = object["git_commit"] as? String
        threads = object["threads"] as? Int ?? 0
        kernels = object["kernel_target"] as? String ?? "?"
        let table = object["backends"] as? [String: String] ?? [:]
        // JSON objects are unordered once parsed: keep the file's order by position of each key.
        backends = table.map { (layer: $0.key, backend: $0.value) }
            .sorted { (text.range(of: "\"\($0.layer)\"")?.lowerBound ?? text.endIndex) < (text.range(of: "\"\($1.layer)\"")?.lowerBound ?? text.endIndex) }
    }

    /// One line: `2026-11-26T15:20:00Z on host, cnnspec 0.1.0 (commit 1a2b3c4d5e6f), 2 threads, kernels avx2 6×16;
    /// backends cnn1 direct, cnn2 im2col`.
    public var summaryLine: String {
        var text = "\(date) on \(host), cnnspec \(version)"
        if let gitCommit { text += " (commit \(gitCommit.prefix(12)))" }
        text += ", " + English.count(threads, "thread") + ", kernels " + kernels
        if !backends.isEmpty { text += "; backends " + backends.map { "\($0.layer) \($0.backend)" }.joined(separator: ", ") }
        return text
    }
}
