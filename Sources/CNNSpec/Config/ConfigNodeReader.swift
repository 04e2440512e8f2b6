/// Reads typed values out of a YAML tree, collecting every problem as a diagnostic with the key path.
///
/// A missing key or an explicit null yields the default; every other mismatch is reported and the
/// default used, so one pass reports all errors in a file.
struct ConfigNodeReader {
    private(set) var diagnostics: [Diagnostic] = []

    mutating func error(_ message: String, at node: YAMLNode?, fallback: SourceLocation?, hint: String? = nil) {
        diagnostics.append(Diagnostic(message, at: node?.location ?? fallback, hint: hint))
    }

    /// The pairs of a mapping; reports unknown keys (with a did-you-mean) and non-mapping nodes.
    mutating func mapping(_ node: YAMLNode?, path: String, allowed: [String]) -> [String: YAMLNode] {
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
                let place = path.isEmpty ? "at the top level" : "in '\(path)'"
                var hint = "valid keys \(place): \(allowed.joined(separator: ", "))"
                if let guess = DidYouMean.suggestion(for: name, among: allowed) { hint = "did you mean '\(guess)'? " + hint }
                error("unknown key '\(name)' \(place)", at: key, fallback: nil, hint: hint)
                continue
            }
            result[name] = value
        }
        return result
    }

    mutating func int(_ node: YAMLNode?, path: String, default value: Int, minimum: Int,
                      maximum: Int = ConfigLimits.largestCount) -> Int {
        optionalInt(node, path: path, minimum: minimum, maximum: maximum) ?? value
    }

    /// A whole number in `minimum...maximum`. Every integer key has an upper bound so that the arithmetic
    /// built on it (iterations × batch size, buffers sized by it) cannot overflow or exhaust memory.
    mutating func optionalInt(_ node: YAMLNode?, path: String, minimum: Int,
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

    mutating func double(_ node: YAMLNode?, path: String, default value: Double, range: ClosedRange<Double>,
                         excludingUpper: Bool = false, excludingLower: Bool = false) -> Double {
        optionalDouble(node, path: path, range: range, excludingUpper: excludingUpper,
                       excludingLower: excludingLower) ?? value
    }

    mutating func optionalDouble(_ node: YAMLNode?, path: String, range: ClosedRange<Double>,
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

    mutating func bool(_ node: YAMLNode?, path: String, default value: Bool) -> Bool {
        guard let node, !node.isNull else { return value }
        guard let flag = node.boolValue else {
            error("'\(path)' must be true or false, found \(node.kindDescription)", at: node, fallback: nil)
            return value
        }
        return flag
    }

    mutating func string(_ node: YAMLNode?, path: String) -> String? {
        guard let node, !node.isNull else { return nil }
        guard let text = node.scalarText else {
            error("'\(path)' must be a single value, found \(node.kindDescription)", at: node, fallback: nil)
            return nil
        }
        return text
    }

    /// A scalar that must be one of `E`'s raw values.
    mutating func choice<E: RawRepresentable & CaseIterable>(_ node: YAMLNode?, path: String, default value: E) -> E
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
    mutating func doubles(_ node: YAMLNode?, path: String, range: ClosedRange<Double>,
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
    mutating func ints(_ node: YAMLNode?, path: String, minimum: Int,
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
