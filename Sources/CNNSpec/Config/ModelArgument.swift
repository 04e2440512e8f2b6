import Foundation

/// One value for a model file's top-level `args:`, given by a run config (`model: {file: …, args: {classes: 5}}`,
/// `--set model.args.classes=5`) or stored in a checkpoint's metadata.
///
/// Equal and hashed by name and value text, wherever it was written; `node` keeps the location so a
/// value the model cannot use is reported where the config wrote it.
public struct ModelArgument: Hashable, Sendable {
    public var name: String
    /// The value as a YAML node (a scalar, list or mapping).
    public var node: YAMLNode
    /// The value as one line of flow YAML (`5`, `[3, 64, 64]`, `"text"`): what the resolved config and checkpoints write.
    public var valueText: String { node.flowText }
    /// Where the name was written (the config file or `--set model.args.NAME`).
    public var location: SourceLocation?

    public init(name: String, node: YAMLNode, location: SourceLocation? = nil) {
        self.name = name; self.node = node; self.location = location
    }

    public static func == (lhs: ModelArgument, rhs: ModelArgument) -> Bool {
        lhs.name == rhs.name && lhs.valueText == rhs.valueText
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(name)
        hasher.combine(valueText)
    }

    /// The arguments as one flow mapping, `{classes: 5, width: 0.5}` (stable: the order they were given).
    public static func flowText(_ arguments: [ModelArgument]) -> String {
        "{" + arguments.map { "\($0.name): \($0.valueText)" }.joined(separator: ", ") + "}"
    }

    /// Reads `flowText` back (checkpoint metadata); `origin` names the text in messages.
    public static func parse(flowText text: String, origin: String) throws(SpecError) -> [ModelArgument] {
        let node = try YAMLParser.parse(text, file: origin)
        guard case .mapping(let pairs, _) = node else {
            throw SpecError(Diagnostic("model arguments must be a mapping such as {classes: 5}, got \(node.kindDescription)", at: node.location))
        }
        var arguments: [ModelArgument] = []
        for (key, value) in pairs {
            guard let name = key.scalarText, !key.isNull else {
                throw SpecError(Diagnostic("a model argument's name must be a word, got \(key.kindDescription)", at: key.location))
            }
            arguments.append(ModelArgument(name: name, node: value, location: key.location))
        }
        return arguments
    }
}

extension YAMLNode {
    /// The node as one line of flow YAML that reads back as the same value: plain scalars as written
    /// (quoted when they hold characters flow syntax would misread), quoted ones quoted, `[…]` and `{…}`.
    public var flowText: String {
        switch self {
        case .scalar(let text, let quoted, _):
            let plainSafe = !text.isEmpty && !quoted
                && text.unicodeScalars.allSatisfy { !",[]{}:#\"'\n\r\t".unicodeScalars.contains($0) }
                && !text.hasPrefix(" ") && !text.hasSuffix(" ") && !"&*!|>%@`-?".contains(text.first!)
                || (!quoted && Double(text) != nil)
            if !quoted && text.isEmpty { return "null" }
            return plainSafe ? text : JSONText.quoted(text)
        case .sequence(let items, _):
            return "[" + items.map(\.flowText).joined(separator: ", ") + "]"
        case .mapping(let pairs, _):
            return "{" + pairs.map { "\($0.key.flowText): \($0.value.flowText)" }.joined(separator: ", ") + "}"
        }
    }
}
