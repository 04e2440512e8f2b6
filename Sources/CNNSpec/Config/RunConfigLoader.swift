/// Loads run configs: YAML file + `--set` overrides → a validated, fully defaulted `RunConfig`.
public enum RunConfigLoader {
    /// Reads the config at `path`, applies `overrides` (each `key.path=value`) and validates the result.
    /// Throws every problem found, each with file:line:column (or `--set key`) and a hint.
    public static func load(path: String, overrides: [String] = []) throws(SpecError) -> RunConfig {
        let root = try YAMLParser.parse(contentsOf: path)
        return try decode(root, configPath: path, overrides: overrides)
    }

    /// Like `load`, for config text held in memory; `file` names it in messages and anchors the model path.
    public static func parse(_ text: String, file: String, overrides: [String] = []) throws(SpecError) -> RunConfig {
        let root = try YAMLParser.parse(text, file: file)
        return try decode(root, configPath: file, overrides: overrides)
    }

    private static func decode(_ root: YAMLNode, configPath: String, overrides: [String]) throws(SpecError) -> RunConfig {
        var tree = root
        var problems: [Diagnostic] = []
        for argument in overrides {
            do {
                tree = try ConfigOverride(parsing: argument).apply(to: tree)
            } catch {
                problems += error.diagnostics
            }
        }
        var decoder = RunConfigDecoder(file: configPath)
        let config = decoder.decode(tree, configPath: configPath)
        problems += decoder.reader.diagnostics
        if !problems.isEmpty { throw SpecError(problems) }
        return config
    }
}
