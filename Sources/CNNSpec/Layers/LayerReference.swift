/// The layer reference (`cnnspec layers`, docs/layers.md), written from the catalog's definitions so
/// that it cannot drift from what the parser accepts.
public struct LayerReference: Sendable {
    public let catalog: LayerCatalog

    public init(catalog: LayerCatalog) { self.catalog = catalog }

    /// One line per kind: name, synonyms and summary.
    public func overview() -> String {
        let width = catalog.definitions.map(\.name.count).max() ?? 0
        return catalog.definitions.map { definition in
            definition.name.padding(toLength: width + 2, withPad: " ", startingAt: 0) + definition.summary
        }.joined(separator: "\n") + "\n"
    }

    /// The whole reference as Markdown: every kind with its keys, types, defaults and short form.
    public func markdown() -> String {
        var text = "# Layer reference\n\nGenerated from cnnspec's layer definitions by `cnnspec layers --format markdown`; "
        text += "every layer also takes `name` and `from`.\n"
        for definition in catalog.definitions { text += "\n" + section(definition) }
        return text
    }

    /// The kind-specific fields of `shapes --format json` as docs/model-yaml.md lists them: one line per kind
    /// that has any, consecutive kinds with the same fields sharing it.
    public func jsonFieldsMarkdown() -> String {
        var lines: [(kinds: [String], fields: [JSONField])] = []
        for definition in catalog.definitions where !definition.jsonFields.isEmpty {
            if lines.last?.fields == definition.jsonFields {
                lines[lines.count - 1].kinds.append(definition.name)
            } else {
                lines.append(([definition.name], definition.jsonFields))
            }
        }
        return lines.map { line in
            "- " + line.kinds.map { "`\($0)`" }.joined(separator: ", ") + ": "
                + line.fields.map { "`\($0.key)`" + ($0.note.map { " (\($0))" } ?? "") }.joined(separator: ", ")
        }.joined(separator: "\n") + "\n"
    }

    /// The Markdown section of one kind.
    public func section(_ definition: LayerDefinition) -> String {
        var text = "## `\(definition.name)`\n\n\(definition.summary).\n\n"
        var facts: [String] = []
        if !definition.synonyms.filter({ $0 != definition.name }).isEmpty {
            facts.append("also written " + definition.synonyms.filter { $0 != definition.name }.map { "`\($0)`" }.joined(separator: ", "))
        }
        if let key = definition.shortFormKey { facts.append("short form sets `\(key)`") }
        if definition.arity == .merge { facts.append("merges the layers named in `from:`") }
        if definition.flattensFeatureMaps { facts.append("a feature map is flattened first") }
        facts.append("example: `\(definition.example)`")
        text += facts.map { "- " + $0 }.joined(separator: "\n") + "\n"
        guard !definition.keys.isEmpty else { return text }
        text += "\n| key | type | default | meaning |\n|---|---|---|---|\n"
        for key in definition.keys {
            let name = ([key.name] + key.aliases).map { "`\($0)`" }.joined(separator: ", ")
            text += "| \(name) | \(key.type.description) | \(key.defaultText) | \(key.summary) |\n"
        }
        return text
    }
}
