import Foundation

/// Loads the model named by a path that is either a model file or a run config (whose `model:` names one).
public enum ModelOrConfigLoader {
    /// The graph and the model file it came from. A config's `model:` is a path relative to the config,
    /// or an inline model mapping.
    public static func load(path: String, catalog: LayerCatalog, inputOverride: TensorShape? = nil) throws(SpecError) -> (graph: ModelGraph, modelFile: String) {
        let document = try YAMLParser.parse(contentsOf: path)
        guard document["layers"] == nil, let model = document["model"] else {
            let graph = try ModelSpecLoader.load(document: document, defaultName: ModelSpecLoader.modelName(fromPath: path),
                                                 catalog: catalog, inputOverride: inputOverride)
            return (graph, path)
        }
        // `model: {file: FILE, args: {…}}` names a file with values for its args; any other mapping is the model itself.
        var fileNode = model
        var arguments: [ModelArgument] = []
        if case .mapping = model, let file = model["file"] {
            fileNode = file
            if let args = model["args"], !args.isNull {
                guard case .mapping(let pairs, _) = args else {
                    throw SpecError(Diagnostic("model.args must be a mapping of argument names to values, got \(args.kindDescription)",
                                               at: args.location, hint: "for example args: {classes: 5}"))
                }
                arguments = pairs.compactMap { pair in
                    pair.key.scalarText.map { ModelArgument(name: $0, node: pair.value, location: pair.key.location) }
                }
            }
        }
        switch fileNode {
        case .scalar(let text, _, let location) where !fileNode.isNull:
            let directory = URL(fileURLWithPath: path).deletingLastPathComponent()
            let modelPath = text.hasPrefix("/") ? text : directory.appendingPathComponent(text).standardizedFileURL.path
            let relativePath = text.hasPrefix("/") || path.hasPrefix("/") ? modelPath : relative(modelPath)
            guard FileManager.default.fileExists(atPath: modelPath) else {
                throw SpecError(Diagnostic("model file '\(text)' not found (looked for \(relativePath))", at: location,
                                           hint: "model: is a path relative to the config file"))
            }
            return (try ModelSpecLoader.load(path: relativePath, catalog: catalog, inputOverride: inputOverride, arguments: arguments),
                    relativePath)
        case .mapping:
            let graph = try ModelSpecLoader.load(document: model, defaultName: ModelSpecLoader.modelName(fromPath: path),
                                                 catalog: catalog, inputOverride: inputOverride)
            return (graph, path)
        default:
            throw SpecError(Diagnostic("model: must be the path of a model file or a model mapping, got \(model.kindDescription)",
                                       at: model.location, hint: "for example model: ../models/modelA.yaml"))
        }
    }

    private static func relative(_ absolute: String) -> String {
        let current = FileManager.default.currentDirectoryPath + "/"
        return absolute.hasPrefix(current) ? String(absolute.dropFirst(current.count)) : absolute
    }
}
