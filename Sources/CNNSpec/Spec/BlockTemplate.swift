/// A reusable group of layers declared under `blocks:`, used like a layer kind with arguments.
///
/// Inside the block, a scalar written `$arg` is replaced by the argument's value at each use. A model
/// file's top-level `args:` work the same way over the whole file (`ModelSpecLoader`).
struct BlockTemplate {
    var name: String
    var arguments: TemplateArguments
    var layers: YAMLNode
    var location: SourceLocation

    /// Replaces every plain `$arg` scalar in `node` by its value.
    static func substitute(_ node: YAMLNode, _ values: [String: YAMLNode]) -> YAMLNode {
        guard !values.isEmpty else { return node }
        switch node {
        case .scalar(let text, let quoted, _):
            if !quoted, text.hasPrefix("$"), let value = values[String(text.dropFirst())] { return value }
            return node
        case .sequence(let items, let location):
            return .sequence(items.map { substitute($0, values) }, location)
        case .mapping(let pairs, let location):
            return .mapping(pairs.map { ($0.key, substitute($0.value, values)) }, location)
        }
    }
}
