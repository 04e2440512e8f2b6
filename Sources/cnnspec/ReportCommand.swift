import ArgumentParser
import CNNSpec
import CNNTrain
import Foundation

/// `cnnspec report RUN_DIR… [-o report.html]`: one self-contained HTML page for one or several runs.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write an HTML report (curves, confusion matrix, test images, config, shapes) for run folders.",
        discussion: """
            A folder that is not a run folder stands for the run folders up to two levels below it (a sweep's \
            folder, runs/modelA). With several runs the curves are overlaid with a legend and each run gets \
            its own section; a sweep's folder leads with its ranked results and one chart per varied key. \
            Curves are drawn against iterations, with epochs along the top. Test predictions use each \
            folder's best.safetensors (else last.safetensors). The page has no scripts and loads nothing \
            from the network; images are embedded PNGs.
            """)

    @Argument(help: "Run folders written by `cnnspec run` (or folders holding them, e.g. a sweep's).")
    var runDirs: [String]

    @Option(name: .shortAndLong, help: "Output file (default: report.html inside the run folder when one is given, else ./report.html).")
    var output: String?

    @Option(help: "Threads for evaluating the test set (0 = the run's setting).")
    var threads: Int = 0

    func validate() throws {
        if runDirs.isEmpty { throw ValidationError("give at least one run folder, e.g. `cnnspec report runs/modelA/20260101-120000`") }
    }

    func run() throws {
        try reportingUserErrors {
            let written = try RunReport.write(paths: runDirs, output: output, threads: threads)
            print("report: \(written.path)")
        }
    }
}
