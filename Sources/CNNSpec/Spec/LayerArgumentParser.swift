/// One hyperparameter as written: canonical key, the key as the user spelled it (an alias such as
/// `num_features`), and the value node.
struct WrittenParameter {
    var key: String
    var spelling: String
    var keyLocation: SourceLocation
    var value: YAMLNode
}

/// Checks a layer's written hyperparameters against its definition's keys: unknown keys (with
/// did-you-mean), wrong types, missing required keys and out-of-range values are all reported.
struct LayerArgumentParser {
    let diagnostics: DiagnosticCollector

    /// The checked arguments, or nil when any of them was wrong (every problem is reported).
    func parse(_ definition: LayerDefinition, name: String, parameters: [WrittenParameter], at location: SourceLocation) -> LayerArguments? {
        let reader = ValueReader(diagnostics: diagnostics, owner: name)
        var written: [String: (value: LayerValue, location: SourceLocation)] = [:]
        var spellings: [String: String] = [:]
        var present: Set<String> = []
        var valid = true
        for parameter in parameters {
            present.insert(parameter.key)
            guard let key = definition.key(parameter.key) else {
                valid = false
                if let meant = reportUnknownKey(parameter, definition: definition, name: name) {
                    diagnostics.noteMisspelling(of: meant, in: "layer at \(location)")
                }
                continue
            }
            guard let value = read(parameter.value, as: key, spelled: parameter.spelling, reader: reader) else {
                valid = false
                continue
            }
            written[key.name] = (value, parameter.value.location)
            spellings[key.name] = parameter.spelling
        }
        for key in definition.keys where key.isRequired && !present.contains(key.name) {
            valid = false
            // A typo of the key explains its absence: one error, not two.
            if diagnostics.isMisspelt(key.name, in: "layer at \(location)") { continue }
            diagnostics.error("\(name): \(definition.name) needs '\(key.name)'", at: location, hint: "for example \(definition.example)")
        }
        return valid ? LayerArguments(definition: definition, written: written, spellings: spellings) : nil
    }

    /// Reports the key; returns the canonical name of the key it is a typo of, when there is one.
    private func reportUnknownKey(_ parameter: WrittenParameter, definition: LayerDefinition, name: String) -> String? {
        if let why = LayerCatalog.unsupportedPyTorchKeys[parameter.key] {
            diagnostics.error("\(name): '\(parameter.key)' is not supported: \(why)", at: parameter.keyLocation)
            return nil
        }
        let keyNames = definition.keys.map(\.name)
        let candidates = keyNames + definition.keys.flatMap(\.aliases) + ["name", "from"]
        let suggestion = DidYouMean.suggestion(for: parameter.key, among: candidates)
        let takes = keyNames.isEmpty ? "\(definition.name) takes only name and from"
            : "\(definition.name) takes \(keyNames.joined(separator: ", ")), name, from"
        let meant = suggestion.map { " (did you mean '\($0)'?)" } ?? ""
        diagnostics.error("\(name): unknown key '\(parameter.key.prefix(80))' for \(definition.name)\(meant)",
                          at: parameter.keyLocation, hint: takes)
        return suggestion.flatMap { definition.key($0)?.name }
    }

    /// `spelled`: the key as written, which messages name.
    private func read(_ node: YAMLNode, as key: LayerKey, spelled: String, reader: ValueReader) -> LayerValue? {
        switch key.type {
        case .integer(let minimum):
            return reader.integer(node, key: spelled, minimum: minimum).map(LayerValue.integer)
        case .pair(let minimum):
            return reader.pair(node, key: spelled, minimum: minimum).map(LayerValue.pair)
        case .number(let range, let what):
            return reader.number(node, key: spelled, in: range, what: what).map(LayerValue.number)
        case .bool:
            return reader.bool(node, key: spelled).map(LayerValue.bool)
        case .choice(let words):
            return reader.string(node, key: spelled, among: words).map(LayerValue.word)
        case .integerOrChoice(let minimum, let words):
            if let word = word(node, among: words) { return .word(word) }
            if node.intValue == nil, case .scalar(let text, _, _) = node, Double(text) == nil {
                return reader.string(node, key: spelled, among: words).map(LayerValue.word)
            }
            return reader.integer(node, key: spelled, minimum: minimum).map(LayerValue.integer)
        case .pairOrChoice(let minimum, let words):
            if let word = word(node, among: words) { return .word(word) }
            if node.intValue == nil, case .scalar(let text, _, _) = node, Double(text) == nil {
                let suggestion = DidYouMean.suggestion(for: text, among: words)
                let listed = LayerKey.ValueType.listed(words)
                diagnostics.error("\(reader.owner): \(spelled) must be a number, [height, width], \(listed), got '\(text.prefix(80))'",
                                  at: node.location, hint: suggestion.map { "did you mean '\($0)'?" })
                return nil
            }
            return reader.pair(node, key: spelled, minimum: minimum).map(LayerValue.pair)
        }
    }

    /// The node's word when it is (case-insensitively) one of `words`.
    private func word(_ node: YAMLNode, among words: [String]) -> String? {
        guard case .scalar(let text, _, _) = node, words.contains(text.lowercased()) else { return nil }
        return text.lowercased()
    }
}
