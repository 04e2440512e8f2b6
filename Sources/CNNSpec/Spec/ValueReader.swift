/// The one typed-YAML reader of model files, run configs and sweep files: reads typed values out of
/// YAML nodes and records a diagnostic for every bad value in its `DiagnosticCollector`, so that one
/// pass reports every error in a file.
///
/// Two message styles, because two kinds of file are read: layer hyperparameters name the layer
/// (`cnn1: kernel must be …, got …`, the `key:` methods below), config and sweep keys name the key
/// path (`'train.batch_size' must be …, found …`, the `path:` methods in the extension). A missing
/// key or an explicit null yields the default.
struct ValueReader {
    let diagnostics: DiagnosticCollector
    /// How the layer is named in messages, e.g. `cnn1`; empty for config and sweep files.
    let owner: String

    init(diagnostics: DiagnosticCollector = DiagnosticCollector(), owner: String = "") {
        self.diagnostics = diagnostics; self.owner = owner
    }

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

// MARK: - Config and sweep keys: messages name the dotted key path.

extension ValueReader {
    /// Records a problem at `node`, or at `fallback` when the key is missing (nil node).
    func error(_ message: String, at node: YAMLNode?, fallback: SourceLocation?, hint: String? = nil) {
        diagnostics.error(message, at: node?.location ?? fallback, hint: hint)
    }

    /// The pairs of a mapping; reports unknown keys (with a did-you-mean) and non-mapping nodes.
    func mapping(_ node: YAMLNode?, path: String, allowed: [String]) -> [String: YAMLNode] {
        guard let node, !node.isNull else { return [:] }
        guard case .mapping(let pairs, _) = node else {
            error("\(path.isEmpty ? "the config" : path) must be a mapping of keys, found \(node.kindDescription)",
                  at: node, fallback: nil, hint: "valid keys: \(allowed.joined(separator: ", "))")
            return [:]
        }
        var result: [String: YAMLNode] = [:]
        for (key, value) in pairs {
            guard let name = key.scalarText else {
                error("keys must be plain words, found \(key.kindDescription)", at: key, fallback: nil)
                continue
            }
            guard allowed.contains(name) else {
                let problem = Self.unknownKey(name, in: path, allowed: allowed)
                error(problem.message, at: key, fallback: nil, hint: problem.hint)
                if let meant = problem.meant { diagnostics.noteMisspelling(of: meant, in: path) }
                continue
            }
            result[name] = value
        }
        return result
    }

    /// The message and hint for a key not among `allowed` in the mapping at `path` ("" = top level),
    /// and the key it was probably meant to be.
    static func unknownKey(_ name: String, in path: String, allowed: [String]) -> (message: String, hint: String, meant: String?) {
        let place = path.isEmpty ? "at the top level" : "in '\(path)'"
        var hint = "valid keys \(place): \(allowed.joined(separator: ", "))"
        let guess = DidYouMean.suggestion(for: name, among: allowed)
        if let guess { hint = "did you mean '\(guess)'? " + hint }
        return ("unknown key '\(name)' \(place)", hint, guess)
    }

    /// Whether `key` of the mapping at `path` was written, misspelt: its "needs 'key'" error is left out.
    func isMisspelt(_ key: String, in path: String) -> Bool { diagnostics.isMisspelt(key, in: path) }

    func int(_ node: YAMLNode?, path: String, default value: Int, minimum: Int,
                      maximum: Int = ConfigLimits.largestCount) -> Int {
        optionalInt(node, path: path, minimum: minimum, maximum: maximum) ?? value
    }

    /// A whole number in `minimum...maximum`. Every integer key has an upper bound so that the arithmetic
    /// built on it (iterations × batch size, buffers sized by it) cannot overflow or exhaust memory.
    func optionalInt(_ node: YAMLNode?, path: String, minimum: Int,
                              maximum: Int = ConfigLimits.largestCount) -> Int? {
        guard let node, !node.isNull else { return nil }
        guard let number = node.intValue else {
            let tooLarge = node.scalarText.map { text in text.allSatisfy { $0.isNumber || $0 == "_" || $0 == "-" } && !text.isEmpty } ?? false
            error("'\(path)' must be a whole number\(tooLarge ? " in \(minimum)...\(maximum)" : ""), found \(node.kindDescription)",
                  at: node, fallback: nil)
            return nil
        }
        guard number >= minimum, number <= maximum else {
            error("'\(path)' must be in \(minimum)...\(maximum), found \(number)", at: node, fallback: nil,
                  hint: number > maximum ? ConfigLimits.why : nil)
            return nil
        }
        return number
    }

    func double(_ node: YAMLNode?, path: String, default value: Double, range: ClosedRange<Double>,
                         excludingUpper: Bool = false, excludingLower: Bool = false) -> Double {
        optionalDouble(node, path: path, range: range, excludingUpper: excludingUpper,
                       excludingLower: excludingLower) ?? value
    }

    func optionalDouble(_ node: YAMLNode?, path: String, range: ClosedRange<Double>,
                                 excludingUpper: Bool = false, excludingLower: Bool = false) -> Double? {
        guard let node, !node.isNull else { return nil }
        guard let number = node.doubleValue, number.isFinite else {
            error("'\(path)' must be a number, found \(node.kindDescription)", at: node, fallback: nil)
            return nil
        }
        let tooLow = excludingLower ? number <= range.lowerBound : number < range.lowerBound
        let tooHigh = excludingUpper ? number >= range.upperBound : number > range.upperBound
        if tooLow || tooHigh {
            let lower = excludingLower ? "(" : "["
            let upper = excludingUpper ? ")" : "]"
            let high = range.upperBound == .greatestFiniteMagnitude ? "∞" : "\(range.upperBound)"
            error("'\(path)' must be in \(lower)\(range.lowerBound), \(high)\(upper), found \(number)", at: node, fallback: nil)
            return nil
        }
        return number
    }

    func bool(_ node: YAMLNode?, path: String, default value: Bool) -> Bool {
        guard let node, !node.isNull else { return value }
        guard let flag = node.boolValue else {
            error("'\(path)' must be true or false, found \(node.kindDescription)", at: node, fallback: nil)
            return value
        }
        return flag
    }

    func string(_ node: YAMLNode?, path: String) -> String? {
        guard let node, !node.isNull else { return nil }
        guard let text = node.scalarText else {
            error("'\(path)' must be a single value, found \(node.kindDescription)", at: node, fallback: nil)
            return nil
        }
        return text
    }

    /// A scalar that must be one of `E`'s raw values.
    func choice<E: RawRepresentable & CaseIterable>(_ node: YAMLNode?, path: String, default value: E) -> E
    where E.RawValue == String {
        guard let text = string(node, path: path) else { return value }
        if let parsed = E(rawValue: text.lowercased()) { return parsed }
        let names = E.allCases.map(\.rawValue)
        var hint = "valid values: \(names.joined(separator: ", "))"
        if let guess = DidYouMean.suggestion(for: text, among: names) { hint = "did you mean '\(guess)'? " + hint }
        error("'\(path)' cannot be '\(text)'", at: node, fallback: nil, hint: hint)
        return value
    }

    /// A list of numbers; a single number reads as a one-element list.
    func doubles(_ node: YAMLNode?, path: String, range: ClosedRange<Double>,
                          excludingLower: Bool = false) -> [Double]? {
        guard let node, !node.isNull else { return nil }
        let items: [YAMLNode]
        if case .sequence(let list, _) = node { items = list } else { items = [node] }
        guard !items.isEmpty else {
            error("'\(path)' must list at least one number", at: node, fallback: nil)
            return nil
        }
        var values: [Double] = []
        for item in items {
            guard let value = optionalDouble(item, path: path, range: range, excludingLower: excludingLower) else { return nil }
            values.append(value)
        }
        return values
    }

    /// A list of whole numbers; a single number reads as a one-element list.
    func ints(_ node: YAMLNode?, path: String, minimum: Int,
                       maximum: Int = ConfigLimits.largestCount) -> [Int]? {
        guard let node, !node.isNull else { return nil }
        let items: [YAMLNode]
        if case .sequence(let list, _) = node { items = list } else { items = [node] }
        var values: [Int] = []
        for item in items {
            guard let value = optionalInt(item, path: path, minimum: minimum, maximum: maximum) else { return nil }
            values.append(value)
        }
        return values
    }
}
