import ArgumentParser
import CNNLayers
import CNNSpec
import CNNTrain

/// `cnnspec shapes FILE`: every layer's output shape, parameters and MACs, then totals.
struct ShapesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "shapes",
        abstract: "Print each layer's output shape, parameter count and multiply-accumulates.",
        discussion: "FILE is a model file or a run config that names its model. See docs/model-yaml.md.")

    @Argument(help: "A model YAML file, or a run config whose 'model:' names one.")
    var file: String

    @Option(help: "Output format: table, json or markdown.")
    var format: String = "table"

    @Option(name: .customLong("input"), help: "Try another input size, as channels,height,width (e.g. 3,64,64).")
    var input: String?

    func run() throws {
        guard let outputFormat = ShapeReport.Format(rawValue: format.lowercased()) else {
            printError("error: --format must be table, json or markdown, got '\(format)'")
            throw ExitCode(1)
        }
        do {
            let inputOverride = try input.map { text throws(SpecError) in try ModelSpecLoader.parseInputShape(text) }
            let (graph, modelFile) = try ModelOrConfigLoader.load(path: file, catalog: .standard, inputOverride: inputOverride)
            let planned = PlannedActivationMemory(graph: graph)
            let memory = ShapeReport.PlannedMemory(trainingBytesPerImage: planned.trainingBytesPerImage,
                                                   inferenceBytesPerImage: planned.inferenceBytesPerImage)
            for warning in graph.warnings { printError(warning.description) }
            print(ShapeReport(graph: graph, file: modelFile, plannedMemory: memory).render(outputFormat), terminator: "")
        } catch {
            printError(error.description)
            throw ExitCode(1)
        }
    }
}
