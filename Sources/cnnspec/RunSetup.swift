import CNNSpec
import CNNTrain
import Foundation

/// The pieces every training-related command loads: config, model graph, and (optionally) data, checked against each other.
struct RunSetup {
    var config: RunConfig
    var graph: ModelGraph

    /// Loads the config (with `--set` overrides) and its model, and checks per-layer backends name real conv layers.
    init(configPath: String, overrides: [String]) throws {
        config = try RunConfigLoader.load(path: configPath, overrides: overrides)
        graph = try ModelSpecLoader.load(path: config.modelPath, catalog: .standard)
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
        let data = try TrainingData.load(config.data, seed: config.train.seed, modelInput: graph.inputShape.dimensions)
        let input = graph.inputShape.dimensions
        guard data.sampleShape == input else {
            var hint = "change the model's input or the transforms"
            if data.sampleShape.count == 3, input.count == 3, data.sampleShape[1...] != input[1...] {
                hint = "add `- resize: [\(input[1]), \(input[2])]` before `scale` in data.train_transforms and data.eval_transforms"
            } else if data.sampleShape.first != input.first {
                hint = "the model's input has \(input[0]) channel(s), \(config.data.dataset.rawValue) images have \(data.sampleShape[0])"
            }
            throw UserError("the data gives \(data.sampleShape.map(String.init).joined(separator: "×")) samples "
                + "but \(config.modelPath) expects input \(input.map(String.init).joined(separator: "×"))", file: config.configPath, hint: hint)
        }
        let classes = graph.outputShape.elementCount
        guard classes == data.classNames.count else {
            throw UserError("\(config.data.dataset.rawValue) has \(data.classNames.count) classes "
                + "but the model's last layer gives \(classes) outputs", file: config.configPath,
                            hint: "make the last linear layer `out: \(data.classNames.count)`")
        }
        return data
    }
}
