/// A YAML document as a tree whose every node remembers where it came from.
public indirect enum YAMLNode: Sendable {
    /// A scalar as written; `isQuoted` is true for '…' and "…" scalars (never numbers or booleans).
    case scalar(String, isQuoted: Bool, SourceLocation)
    case sequence([YAMLNode], SourceLocation)
    /// Key/value pairs in file order (duplicates are rejected by the parser).
    case mapping([(key: YAMLNode, value: YAMLNode)], SourceLocation)

    /// Where the node starts in its file.
    public var location: SourceLocation {
        switch self {
        case .scalar(_, _, let location), .sequence(_, let location), .mapping(_, let location):
            return location
        }
    }

    /// The scalar text, or nil for collections.
    public var scalarText: String? {
        if case .scalar(let text, _, _) = self { return text }
        return nil
    }

    /// A word for the node's kind, for messages ("a mapping", "a list", "the scalar 'x'").
    public var kindDescription: String {
        switch self {
        case .scalar(let text, _, _): return text.isEmpty ? "an empty value" : "'\(text)'"
        case .sequence: return "a list"
        case .mapping: return "a mapping"
        }
    }

    /// The value for a scalar key in a mapping.
    public subscript(key: String) -> YAMLNode? {
        guard case .mapping(let pairs, _) = self else { return nil }
        return pairs.first { $0.key.scalarText == key }?.value
    }

    /// A plain (unquoted) scalar read as an integer, YAML 1.1/1.2 style (`12`, `-3`, `0x1F`, `1_000`).
    public var intValue: Int? {
        guard case .scalar(let text, let quoted, _) = self, !quoted else { return nil }
        let cleaned = text.replacingOccurrences(of: "_", with: "")
        if cleaned.hasPrefix("0x") { return Int(cleaned.dropFirst(2), radix: 16) }
        return Int(cleaned)
    }

    /// A plain scalar read as a number (`0.01`, `1e-3`, `5`).
    public var doubleValue: Double? {
        guard case .scalar(let text, let quoted, _) = self, !quoted else { return nil }
        if let int = intValue { return Double(int) }
        let lowered = text.lowercased()
        if [".inf", "+.inf", ".nan", "-.inf"].contains(lowered) { return nil }
        return Double(text.replacingOccurrences(of: "_", with: ""))
    }

    /// A plain scalar read as a boolean (`true/false/yes/no/on/off`).
    public var boolValue: Bool? {
        guard case .scalar(let text, let quoted, _) = self, !quoted else { return nil }
        switch text.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default: return nil
        }
    }

    /// A plain scalar that YAML reads as null (`~`, `null`, or nothing at all).
    public var isNull: Bool {
        guard case .scalar(let text, let quoted, _) = self, !quoted else { return false }
        return text.isEmpty || text == "~" || text.lowercased() == "null"
    }
}

import Foundation
