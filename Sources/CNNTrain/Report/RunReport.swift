import Foundation

/// Writes `report.html` for run folders: the entry point for `cnnspec report` and the end of `cnnspec run`.
public enum RunReport {
    public static let fileName = "report.html"

    /// Loads every folder, renders one page and writes it atomically to `output`.
    public static func write(runFolders: [URL], to output: URL, threads: Int = 0) throws -> URL {
        let runs = try runFolders.map { folder throws(ReportError) in try RunReportData.load(folder: folder, threads: threads) }
        var page = ReportPage(runs: runs)
        page.sweep = sweepOverview(of: runFolders)
        try AtomicFile.write(page.render(), to: output)
        return output
    }

    /// `folders` with every folder that is not itself a run folder (no metrics.csv or config.yaml) replaced by
    /// the run folders up to two levels below it, sorted by path: a sweep's folder or `runs/modelA` gives all its runs.
    public static func expand(_ folders: [URL]) -> [URL] {
        func isRun(_ url: URL) -> Bool {
            [RunFolder.metricsFile, RunFolder.configFile].contains { FileManager.default.fileExists(atPath: url.appendingPathComponent($0).path) }
        }
        func children(_ url: URL) -> [URL] {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []
            return names.sorted().map { url.appendingPathComponent($0) }.filter {
                var isDirectory: ObjCBool = false
                return FileManager.default.fileExists(atPath: $0.path, isDirectory: &isDirectory) && isDirectory.boolValue
            }
        }
        return folders.flatMap { folder -> [URL] in
            if isRun(folder) { return [folder] }
            let found = children(folder).flatMap { child in isRun(child) ? [child] : children(child).filter(isRun) }
            return found.isEmpty ? [folder] : found
        }
    }

    /// The results of the sweep the run folders belong to, when they all are points of one sweep (their
    /// common parent holds the `results.csv` that `cnnspec sweep` writes).
    static func sweepOverview(of runFolders: [URL]) -> SweepOverview? {
        let parents = Set(runFolders.map { $0.standardizedFileURL.deletingLastPathComponent().path })
        guard runFolders.count > 1, parents.count == 1, let parent = parents.first,
              let csv = try? String(contentsOfFile: parent + "/" + SweepPlan.resultsCSV, encoding: .utf8) else { return nil }
        return SweepOverview(name: URL(fileURLWithPath: parent).lastPathComponent, resultsCSV: csv)
    }

    /// Writes `report.html` into the run folder itself.
    @discardableResult
    public static func write(runFolder: URL, threads: Int = 0) throws -> URL {
        try write(runFolders: [runFolder], to: runFolder.appendingPathComponent(fileName), threads: threads)
    }
}

/// A report input that cannot be used (e.g. a folder that is not a run folder).
public struct ReportError: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var problem: String
    public init(path: String, problem: String) { self.path = path; self.problem = problem }
    public var description: String { "\(path): error: \(problem)" }
}
