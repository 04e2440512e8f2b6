/// Reads typed hyperparameter values from YAML nodes, recording a diagnostic for every bad value.
struct ValueReader {
    let diagnostics: DiagnosticCollector
    /// How the layer is named in messages, e.g. `cnn1`.
    let owner: String

    /// An integer in `minimum...SpecLimits.maximumDimension`.
    func integer(_ node: YAMLNode, key: String, minimum: Int) -> Int? {
        guard let value = node.intValue else {
            diagnostics.error("\(owner): \(key) must be a whole number, got \(node.kindDescription)", at: node.location,
                              hint: wholeNumberHint(node))
            return nil
        }
        return bounded(value, key: key, minimum: minimum, at: node.location)
    }

    /// An integer, or `[height, width]`.
    func pair(_ node: YAMLNode, key: String, minimum: Int) -> Pair2D? {
        if case .sequence(let items, let location) = node {
            guard items.count == 2 else {
                diagnostics.error("\(owner): \(key) as a list must be [height, width], got \(items.count) value\(items.count == 1 ? "" : "s")",
                                  at: location, hint: "write \(key): 3 for a square window or \(key): [3, 5]")
                return nil
            }
            guard let height = integer(items[0], key: key, minimum: minimum),
                  let width = integer(items[1], key: key, minimum: minimum) else { return nil }
            return Pair2D(height, width)
        }
        guard case .scalar = node else {
            diagnostics.error("\(owner): \(key) must be a number or [height, width], got \(node.kindDescription)", at: node.location)
            return nil
        }
        return integer(node, key: key, minimum: minimum).map { Pair2D(square: $0) }
    }

    func bool(_ node: YAMLNode, key: String) -> Bool? {
        guard let value = node.boolValue else {
            diagnostics.error("\(owner): \(key) must be true or false, got \(node.kindDescription)", at: node.location)
            return nil
        }
        return value
    }

    /// A number in `range` (closed); `what` explains the range in the message.
    func number(_ node: YAMLNode, key: String, in range: ClosedRange<Double>, what: String) -> Float? {
        guard let value = node.doubleValue else {
            diagnostics.error("\(owner): \(key) must be a number, got \(node.kindDescription)", at: node.location)
            return nil
        }
        guard range.contains(value) else {
            diagnostics.error("\(owner): \(key) must be \(what), got \(node.scalarText ?? "\(value)")", at: node.location)
            return nil
        }
        return Float(value)
    }

    func string(_ node: YAMLNode, key: String, among choices: [String]) -> String? {
        guard let text = node.scalarText, choices.contains(text.lowercased()) else {
            let suggestion = node.scalarText.flatMap { DidYouMean.suggestion(for: $0, among: choices) }
            diagnostics.error("\(owner): \(key) must be one of \(choices.joined(separator: ", ")), got \(node.kindDescription)",
                              at: node.location, hint: suggestion.map { "did you mean '\($0)'?" })
            return nil
        }
        return text.lowercased()
    }

    private func bounded(_ value: Int, key: String, minimum: Int, at location: SourceLocation) -> Int? {
        if value < minimum {
            let what = minimum == 0 ? "zero or more" : "at least \(minimum)"
            diagnostics.error("\(owner): \(key) must be \(what), got \(value)", at: location,
                              hint: value < 0 ? "sizes cannot be negative" : nil)
            return nil
        }
        if value > SpecLimits.maximumDimension {
            diagnostics.error("\(owner): \(key) \(value) is too large (at most \(SpecLimits.maximumDimension))", at: location)
            return nil
        }
        return value
    }

    private func wholeNumberHint(_ node: YAMLNode) -> String? {
        guard case .scalar(let text, let quoted, _) = node else { return nil }
        if quoted { return "remove the quotes around \(text)" }
        if let double = Double(text), double.isFinite {
            if double.rounded() == double, abs(double) >= 1e18 { return "the number is far too large" }
            return "sizes are whole numbers"
        }
        if text.allSatisfy({ $0.isNumber || $0 == "-" || $0 == "+" }) && !text.isEmpty { return "the number is far too large" }
        return nil
    }
}
