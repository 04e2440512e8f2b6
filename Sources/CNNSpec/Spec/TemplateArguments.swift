/// The arguments a template declares — a block's `args:` or a model file's top-level `args:` — and how
/// a use binds them: the one mechanism both share. Inside the template, a plain scalar written `$name`
/// is replaced by the argument's value (`BlockTemplate.substitute`).
struct TemplateArguments {
    /// Declared names in file order with their defaults; a nil default (`~`) marks a required argument.
    var declared: [(name: String, defaultValue: YAMLNode?)] = []

    var names: [String] { declared.map(\.name) }

    /// Reads an `args:` mapping of names to defaults; `owner` words whose it is in messages ("block 'basic'").
    static func parse(_ node: YAMLNode, owner: String, diagnostics: DiagnosticCollector) -> TemplateArguments {
        guard case .mapping(let pairs, _) = node else {
            diagnostics.error("args of \(owner) must be a mapping of names to defaults (~ for required)", at: node.location,
                              hint: "for example args: {classes: 1000}")
            return TemplateArguments()
        }
        var arguments = TemplateArguments()
        for (key, defaultValue) in pairs {
            guard let name = key.scalarText, !key.isNull, isArgumentName(name) else {
                diagnostics.error("an argument name of \(owner) must be a word of letters, digits and '_', got \(key.kindDescription)",
                                  at: key.location)
                continue
            }
            arguments.declared.append((name, defaultValue.isNull ? nil : defaultValue))
        }
        return arguments
    }

    /// Letters, digits and `_`, not starting with a digit: what may follow `$`.
    static func isArgumentName(_ text: String) -> Bool {
        guard let first = text.unicodeScalars.first, !("0"..."9").contains(first) else { return false }
        return text.unicodeScalars.allSatisfy { $0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "_" }
    }

    /// The values of one use: the given arguments (name, where the name is written, value), each checked
    /// against the declaration, then the defaults of those not given. Unknown names get a did-you-mean;
    /// a missing required argument is reported at `location`. Nil when something was wrong (reported).
    /// `misspellingScope` records misspelt names so the "needs argument" error for them is left out.
    func bind(_ given: [(name: String, location: SourceLocation, value: YAMLNode)], owner: String, takesName: Bool,
              at location: SourceLocation, diagnostics: DiagnosticCollector, misspellingScope: String) -> [String: YAMLNode]? {
        var values: [String: YAMLNode] = [:]
        var ok = true
        for argument in given {
            if declared.contains(where: { $0.name == argument.name }) {
                values[argument.name] = argument.value
                continue
            }
            ok = false
            let extra = takesName ? ["name"] : []
            let suggestion = DidYouMean.suggestion(for: argument.name, among: names + extra)
            if let suggestion { diagnostics.noteMisspelling(of: suggestion, in: misspellingScope) }
            let takes = names.isEmpty ? "\(owner) declares no args"
                : "\(owner) takes \((names + extra).joined(separator: ", "))"
            diagnostics.error("unknown argument '\(argument.name.prefix(80))' for \(owner)", at: argument.location,
                              hint: suggestion.map { "did you mean '\($0)'? \(takes)" } ?? takes)
        }
        for argument in declared where values[argument.name] == nil {
            if let defaultValue = argument.defaultValue {
                values[argument.name] = defaultValue
            } else {
                ok = false
                if diagnostics.isMisspelt(argument.name, in: misspellingScope) { continue }
                diagnostics.error("\(owner) needs argument '\(argument.name)'", at: location)
            }
        }
        return ok ? values : nil
    }

    /// Reports every plain `$name` scalar in `node` whose name is not in `known` (a typo, or an argument
    /// the template forgot to declare), instead of a confusing type error later.
    static func reportUnknownReferences(in node: YAMLNode, known: Set<String>, owner: String, diagnostics: DiagnosticCollector) {
        switch node {
        case .scalar(let text, let quoted, let location):
            guard !quoted, text.hasPrefix("$"), !known.contains(String(text.dropFirst())) else { return }
            let name = String(text.dropFirst())
            let suggestion = DidYouMean.suggestion(for: name, among: Array(known))
            let declared = known.isEmpty ? "\(owner) declares no args" : "\(owner) declares \(known.sorted().joined(separator: ", "))"
            diagnostics.error("'\(text.prefix(80))' is not an argument of \(owner)", at: location,
                              hint: (suggestion.map { "did you mean '$\($0)'? " } ?? "") + declared
                                  + "; declare it under args: with a default, e.g. args: {\(name.prefix(40)): 1}")
        case .sequence(let items, _):
            for item in items { reportUnknownReferences(in: item, known: known, owner: owner, diagnostics: diagnostics) }
        case .mapping(let pairs, _):
            for pair in pairs { reportUnknownReferences(in: pair.value, known: known, owner: owner, diagnostics: diagnostics) }
        }
    }
}
