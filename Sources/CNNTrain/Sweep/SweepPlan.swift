import CNNSpec
import Foundation

/// Where a sweep's points run and with which `cnnspec run` arguments.
public struct SweepPlan: Sendable {
    public var spec: SweepSpec
    public var points: [SweepPoint]
    /// `runs/sweeps/<name>`, holding one run folder per point and the results tables.
    public var folder: URL

    /// The plan of `spec` in `runs/sweeps/<name>` under `workingDirectory`.
    public init(spec: SweepSpec, workingDirectory: URL) {
        self.spec = spec
        points = SweepExpansion.points(of: spec)
        folder = workingDirectory.appendingPathComponent("runs/sweeps").appendingPathComponent(spec.name).standardizedFileURL
    }

    public func folder(of point: SweepPoint) -> URL { folder.appendingPathComponent(point.id) }

    /// `run BASE --set …  --set output.dir=FOLDER --set train.threads=T` for a fresh start of `point`.
    public func freshArguments(_ point: SweepPoint, basePath: String, folder: String, threads: String) -> [String] {
        var arguments = ["run", basePath]
        for override in point.overrides(of: spec) { arguments += ["--set", override] }
        return arguments + ["--set", "output.dir=\(folder)", "--set", "train.threads=\(threads)"]
    }

    /// `--jobs` capped at the cores and points, and threads per job so that jobs × threads ≤ cores.
    public static func split(jobs: Int, cores: Int, points: Int) -> (jobs: Int, threads: Int) {
        let jobs = max(1, min(jobs, cores, max(points, 1)))
        return (jobs, max(1, cores / jobs))
    }

    /// Each point's folder state and the ranked table.
    public func results(failures: [Int: String] = [:], relativeTo base: URL? = nil) -> SweepResultsTable {
        let entries = points.map { point -> (point: SweepPoint, result: SweepPointResult, folder: String) in
            var result = SweepPointResult(folder: folder(of: point))
            if failures[point.index] != nil && result.status != .finished { result.status = .failed }
            return (point, result, display(folder(of: point), relativeTo: base))
        }
        return SweepResultsTable(spec: spec, entries: entries)
    }

    /// The ranked table as CSV in the sweep folder (also read by `cnnspec report` on the sweep's runs).
    public static let resultsCSV = "results.csv"

    /// Writes results.md and results.csv into the sweep folder atomically; returns the markdown.
    @discardableResult
    public func writeResults(_ table: SweepResultsTable) throws(FileWriteError) -> String {
        let title = "# Sweep \(spec.name)\n\nRanked by \(spec.metric.rawValue). Sweep file: \(spec.file)\n\n"
        try AtomicFile.write(title + table.markdown, to: folder.appendingPathComponent("results.md"))
        try AtomicFile.write(table.csv, to: folder.appendingPathComponent(Self.resultsCSV))
        return table.markdown
    }

    public func display(_ url: URL, relativeTo base: URL?) -> String {
        guard let base else { return url.path }
        let prefix = base.standardizedFileURL.path + "/"
        return url.path.hasPrefix(prefix) ? String(url.path.dropFirst(prefix.count)) : url.path
    }
}
