/// A `train.freeze` or `train.init.exclude` entry, matched against layer and tensor names as PyTorch's
/// `state_dict` spells them (`features.0.0.weight`):
///
/// - a name (`fc`, `fc.weight`) or a prefix of dotted names (`layer1` = everything under `layer1.`);
/// - a glob with `*` (any characters, dots included, as Python's `fnmatch`), `?` (one character) and
///   `[…]` (`[0-3]`, `[!0]`): `features.*`, `conv*`, `layer[12].*`, matched against the whole name or
///   any of its dotted prefixes (`conv*` matches `conv1.weight` through `conv1`).
public enum LayerPattern {
    /// Whether `pattern` holds glob characters.
    public static func isGlob(_ pattern: String) -> Bool { pattern.contains { "*?[".contains($0) } }

    /// Whether the dotted `name` (a layer or tensor name) belongs to `pattern`.
    public static func matches(_ name: String, _ pattern: String) -> Bool {
        if name == pattern || name.hasPrefix(pattern + ".") { return true }
        guard isGlob(pattern) else { return false }
        let patternScalars = Array(pattern.unicodeScalars)
        var prefix = Substring(name)
        while true {
            if glob(patternScalars[...], Array(prefix.unicodeScalars)[...]) { return true }
            guard let dot = prefix.lastIndex(of: ".") else { return false }
            prefix = prefix[..<dot]
        }
    }

    /// Whether any of `patterns` takes `name`.
    public static func matchesAny(_ name: String, _ patterns: [String]) -> Bool { patterns.contains { matches(name, $0) } }

    /// `fnmatch` on whole strings: `*`, `?`, `[set]`, `[!set]`, ranges `a-z`; anything else literally.
    static func glob(_ pattern: ArraySlice<Unicode.Scalar>, _ text: ArraySlice<Unicode.Scalar>) -> Bool {
        var p = pattern.startIndex, t = text.startIndex
        var star: (p: Int, t: Int)?
        while t < text.endIndex {
            if p < pattern.endIndex {
                switch pattern[p] {
                case "*":
                    star = (p, t); p += 1; continue
                case "?":
                    p += 1; t += 1; continue
                case "[":
                    if let (matched, next) = bracket(pattern, at: p, text[t]) {
                        if matched { p = next; t += 1; continue }
                    } else if text[t] == "[" {  // an unclosed '[' is literal
                        p += 1; t += 1; continue
                    }
                default:
                    if pattern[p] == text[t] { p += 1; t += 1; continue }
                }
            }
            // Mismatch: let the last '*' take one more character.
            guard let last = star else { return false }
            star = (last.p, last.t + 1)
            p = last.p + 1; t = last.t + 1
        }
        while p < pattern.endIndex && pattern[p] == "*" { p += 1 }
        return p == pattern.endIndex
    }

    /// Reads the set starting at `pattern[start]` (`[`): whether `character` is in it, and the index after `]`;
    /// nil when there is no closing `]`.
    private static func bracket(_ pattern: ArraySlice<Unicode.Scalar>, at start: Int, _ character: Unicode.Scalar) -> (Bool, Int)? {
        var index = start + 1
        let negated = index < pattern.endIndex && (pattern[index] == "!" || pattern[index] == "^")
        if negated { index += 1 }
        var found = false
        var first = true
        while index < pattern.endIndex {
            let c = pattern[index]
            if c == "]" && !first { return (found != negated, index + 1) }
            first = false
            if index + 2 < pattern.endIndex, pattern[index + 1] == "-", pattern[index + 2] != "]" {
                let upper = pattern[index + 2].value  // a reversed range such as [z-a] matches nothing, as in fnmatch
                if c.value <= upper && (c.value...upper).contains(character.value) { found = true }
                index += 3
            } else {
                if c == character { found = true }
                index += 1
            }
        }
        return nil
    }

    /// The names of the layers that hold parameters (`trainableOnly`) or any tensor, for messages.
    public static func layersWithTensors(of graph: ModelGraph, trainableOnly: Bool) -> [String] {
        graph.nodes.filter { node in node.op.parameters.contains { !trainableOnly || $0.isTrainable } }.map(\.name)
    }

    /// One diagnostic per pattern of `key` (`train.freeze`, `train.init.exclude`) that takes no tensor of
    /// `graph` (`trainableOnly`: no parameter), located where the config wrote it.
    public static func problems(_ patterns: [String], key: String, graph: ModelGraph, trainableOnly: Bool,
                                locations: KeyLocations) -> [Diagnostic] {
        let tensors = graph.nodes.flatMap { node in
            node.op.parameters.filter { !trainableOnly || $0.isTrainable }.map { node.name + "." + $0.suffix }
        }
        let layers = layersWithTensors(of: graph, trainableOnly: trainableOnly)
        var problems: [Diagnostic] = []
        for (index, pattern) in patterns.enumerated() where !tensors.contains(where: { matches($0, pattern) }) {
            let what = trainableOnly ? "layer with parameters" : "layer or tensor"
            let shown = layers.count > 40 ? layers.prefix(40).joined(separator: ", ") + ", … (\(layers.count) in all)"
                : layers.joined(separator: ", ")
            let suggestion = isGlob(pattern) ? nil : DidYouMean.suggestion(for: pattern, among: layers)
            problems.append(Diagnostic("\(key)[\(index)]: '\(pattern.prefix(80))' matches no \(what) of \(graph.name)",
                                       at: locations["\(key)[\(index)]"],
                                       hint: (suggestion.map { "did you mean '\($0)'? " } ?? "")
                                           + "give a layer name, a prefix such as 'layer1' or a glob such as 'features.*'; "
                                           + "\(trainableOnly ? "layers with parameters" : "layers with tensors"): \(shown)"))
        }
        return problems
    }
}

/// Where config keys were written (`train.freeze[1]` → file:line:column), for errors found after decoding,
/// when the config is checked against its model. Never part of a config's identity: every value is equal.
public struct KeyLocations: Hashable, Sendable {
    private var byPath: [String: SourceLocation] = [:]

    public init() {}

    public subscript(path: String) -> SourceLocation? {
        get { byPath[path] }
        set { byPath[path] = newValue }
    }

    public static func == (lhs: KeyLocations, rhs: KeyLocations) -> Bool { true }
    public func hash(into hasher: inout Hasher) {}
}
