import ArgumentParser

/// The `cnnspec` command line: one subcommand per job.
@main
struct CNNSpecCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cnnspec",
        abstract: "Describe a CNN in YAML, check its shapes, train and evaluate it on the CPU.",
        version: "0.1.0",
        subcommands: [ShapesCommand.self, LayersCommand.self, RunCommand.self, EvalCommand.self, TimeCommand.self, SweepCommand.self,
                      ReportCommand.self, PredictCommand.self, ExportCommand.self, ConfigCommand.self, LRFindCommand.self])
}
