import ArgumentParser
import CNNTrain
import Foundation

/// The `cnnspec` command line: one subcommand per job.
@main
struct CNNSpecCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cnnspec",
        abstract: "Describe a CNN in YAML, check its shapes, train and evaluate it on the CPU.",
        version: "0.1.0",
        subcommands: [ShapesCommand.self, LayersCommand.self, RunCommand.self, EvalCommand.self, TimeCommand.self, SweepCommand.self,
                      ReportCommand.self, PredictCommand.self, ExportCommand.self, ConfigCommand.self, LRFindCommand.self])

    /// The process-wide settings, then the subcommand: `backend: auto` keeps its timings in the per-user
    /// cache (`CNNSPEC_BACKEND_CACHE=off` keeps them in memory only) and says on standard error what it times.
    static func main() {
        let cacheOff = ProcessInfo.processInfo.environment["CNNSPEC_BACKEND_CACHE"] == "off"
        AutoBackendTuning.shared = AutoBackendTuning(cacheURL: cacheOff ? nil : AutoBackendTuning.defaultCacheURL(),
                                                     log: { TerminalLine.standardError.line($0) })
        main(nil)
    }
}
