import CNNSpec
import CNNTrain
import Foundation

/// The pieces every training-related command loads: config, model graph, and (optionally) data, checked against each other.
struct RunSetup {
    var config: RunConfig
    var graph: ModelGraph

    /// Loads the config (with `--set` overrides) and its model (at `input` instead of the model file's
    /// input when given), and checks per-layer backends name real conv layers.
    init(configPath: String, overrides: [String], input: TensorShape? = nil) throws {
        config = try RunConfigLoader.load(path: configPath, overrides: overrides)
        graph = try ModelSpecLoader.load(path: config.modelPath, catalog: .standard, inputOverride: input)
        var problems: [Diagnostic] = []
        let convolutions = graph.nodes.filter { $0.op is Conv2dOperation }.map(\.name)
        for override in config.train.layerBackends where !convolutions.contains(override.layer) {
            let suggestion = DidYouMean.suggestion(for: override.layer, among: convolutions)
            problems.append(Diagnostic("train.layer_backends: '\(override.layer)' is not a convolution layer of \(graph.name)",
                                       at: override.location,
                                       hint: suggestion.map { "did you mean '\($0)'?" }
                                           ?? "conv layers: \(convolutions.joined(separator: ", "))"))
        }
        if !problems.isEmpty { throw SpecError(problems) }
    }

    /// Loads the data and checks that its samples and classes fit the model.
    func loadData() throws -> TrainingData {
        try TrainingData.load(for: config, graph: graph)
    }
}
