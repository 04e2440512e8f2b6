import Foundation

/// Loads run configs: YAML file + `--set` overrides → a validated, fully defaulted `RunConfig`.
public enum RunConfigLoader {
    /// Reads the config at `path`, applies `overrides` (each `key.path=value`) and validates the result.
    /// Throws every problem found, each with file:line:column (or `--set key`) and a hint.
    public static func load(path: String, overrides: [String] = []) throws(SpecError) -> RunConfig {
        let root = try YAMLParser.parse(contentsOf: path)
        return try decode(root, configPath: path, overrides: overrides, checkModel: true)
    }

    /// Like `load`, for config text held in memory; `file` names it in messages and anchors the model path.
    public static func parse(_ text: String, file: String, overrides: [String] = []) throws(SpecError) -> RunConfig {
        let root = try YAMLParser.parse(text, file: file)
        return try decode(root, configPath: file, overrides: overrides)
    }

    /// `checkModel`: also report a `model:` file that cannot be opened, at the `model` key (in the file or
    /// its `--set model`), so that the error says where the path came from.
    private static func decode(_ root: YAMLNode, configPath: String, overrides: [String],
                               checkModel: Bool = false) throws(SpecError) -> RunConfig {
        var tree = root
        var problems: [Diagnostic] = []
        for argument in overrides {
            do {
                let override = try ConfigOverride(parsing: argument)
                if let problem = override.schemaProblem() {
                    problems.append(problem)
                    continue
                }
                tree = try override.apply(to: tree)
            } catch {
                problems += error.diagnostics
            }
        }
        let decoder = RunConfigDecoder()
        let config = decoder.decode(tree, configPath: configPath)
        problems += decoder.reader.diagnostics.diagnostics
        if checkModel, problems.isEmpty, let problem = unreadableFileProblem(config.modelPath) {
            problems.append(Diagnostic("'model': cannot open '\(config.modelPath)': \(problem)", at: tree["model"]?.location,
                                       hint: "model paths are relative to the config file's folder"))
        }
        if !problems.isEmpty { throw SpecError(problems) }
        return config
    }
}
