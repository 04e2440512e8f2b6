import CNNSpec
import Foundation

extension TrainingData {
    /// Loads a run config's data and checks that its samples and classes fit `graph` (an `UserError`
    /// naming the config, with a hint, when they do not).
    public static func load(for config: RunConfig, graph: ModelGraph) throws -> TrainingData {
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
            throw UserError("\(config.data.dataset.rawValue) has \(data.classNames.count) classes but the model's last layer gives \(classes) outputs",
                             file: config.configPath, hint: "make the last linear layer `out: \(data.classNames.count)`")
        }
        return data
    }
}
