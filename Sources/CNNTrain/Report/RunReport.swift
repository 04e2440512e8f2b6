import Foundation

/// Writes `report.html` for run folders: the entry point for `cnnspec report` and the end of `cnnspec run`.
public enum RunReport {
    public static let fileName = "report.html"

    /// Loads every folder, renders one page and writes it atomically to `output`.
    public static func write(runFolders: [URL], to output: URL, threads: Int = 0) throws -> URL {
        let runs = try runFolders.map { folder throws(ReportError) in try RunReportData.load(folder: folder, threads: threads) }
        try AtomicFile.write(ReportPage(runs: runs).render(), to: output)
        return output
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
