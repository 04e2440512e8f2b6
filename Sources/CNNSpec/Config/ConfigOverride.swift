/// One `--set key.path=value` from the command line, applied to the config's YAML tree before
/// validation so that its errors point at `--set key.path`.
public struct ConfigOverride: Hashable, Sendable {
    /// The dotted key path, e.g. `["train", "optimizer", "lr"]`.
    public var keyPath: [String]
    /// The value text, parsed as YAML (a scalar or a flow collection such as `[scale]`).
    public var valueText: String

    /// Parses `key.path=value`; the value may be empty (meaning null, i.e. the default).
    public init(parsing argument: String) throws(SpecError) {
        guard let equals = argument.firstIndex(of: "=") else {
            throw SpecError(Diagnostic("--set '\(argument)' has no '='", at: nil,
                                       hint: "write --set key.path=value, e.g. --set train.optimizer.lr=0.05"))
        }
        let key = argument[..<equals]
        let parts = key.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard !parts.isEmpty, parts.allSatisfy({ !$0.isEmpty && !$0.contains(" ") }) else {
            throw SpecError(Diagnostic("--set '\(argument)': '\(key)' is not a key path", at: nil,
                                       hint: "keys are separated by dots, e.g. train.optimizer.lr"))
        }
        keyPath = parts
        valueText = String(argument[argument.index(after: equals)...])
    }

    /// The name used as the "file" of this override's diagnostics: `--set train.optimizer.lr`.
    public var origin: String { "--set " + keyPath.joined(separator: ".") }

    /// The problem with the key path when `ConfigSchema` declares no such key, located at this override.
    func schemaProblem() -> Diagnostic? {
        guard let problem = ConfigSchema.problem(keyPath: keyPath) else { return nil }
        return Diagnostic(problem.message, at: SourceLocation(file: origin, line: 1, column: 1), hint: problem.hint)
    }

    /// `root` with the value put at the key path, creating intermediate mappings as needed.
    func apply(to root: YAMLNode) throws(SpecError) -> YAMLNode {
        let start = SourceLocation(file: origin, line: 1, column: 1)
        let isBlank = valueText.allSatisfy { $0 == " " }
        let newValue = isBlank ? YAMLNode.scalar("", isQuoted: false, start) : try YAMLParser.parse(valueText, file: origin)
        return try insert(newValue, into: root, path: keyPath[...], start: start)
    }

    private func insert(_ value: YAMLNode, into node: YAMLNode, path: ArraySlice<String>,
                        start: SourceLocation) throws(SpecError) -> YAMLNode {
        guard let key = path.first else { return value }
        var pairs: [(key: YAMLNode, value: YAMLNode)] = []
        var location = start
        switch node {
        case .mapping(let existing, let at):
            pairs = existing; location = at
        case .scalar(_, _, let at) where node.isNull:
            location = at
        case .scalar(_, _, let at) where ConfigSchema.key(keyPath[..<path.startIndex].joined(separator: "."))?.shorthand != nil:
            // A key whose scalar stands for a mapping (`model: FILE` = `model: {file: FILE}`) is extended.
            let shorthand = ConfigSchema.key(keyPath[..<path.startIndex].joined(separator: "."))?.shorthand ?? ""
            pairs = [(.scalar(shorthand, isQuoted: false, at), node)]; location = at
        default:
            let prefix = keyPath[..<path.startIndex].joined(separator: ".")
            throw SpecError(Diagnostic("\(origin): '\(prefix)' is \(node.kindDescription), not a mapping of keys",
                                       at: node.location))
        }
        if let index = pairs.firstIndex(where: { $0.key.scalarText == key }) {
            pairs[index].value = try insert(value, into: pairs[index].value, path: path.dropFirst(), start: start)
        } else {
            let child = try insert(value, into: .mapping([], start), path: path.dropFirst(), start: start)
            pairs.append((.scalar(key, isQuoted: false, start), child))
        }
        return .mapping(pairs, location)
    }
}
