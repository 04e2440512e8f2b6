/// One hyperparameter of a layer kind: its spelling, type, valid range and default. The parser checks
/// written values against it, did-you-mean suggests from it, and the layer reference documents it.
public struct LayerKey: Sendable {
    /// The value a key accepts.
    public enum ValueType: Sendable {
        /// A whole number from `minimum` to `SpecLimits.maximumDimension`.
        case integer(minimum: Int)
        /// A whole number, or `[height, width]`.
        case pair(minimum: Int)
        /// A number in the range; `what` words the range for messages ("a probability between 0 and 1").
        case number(ClosedRange<Double>, what: String)
        case bool
        /// One of the words (case-insensitive).
        case choice([String])
        /// A whole number, or one of the words (`groups: 2` or `groups: in`).
        case integerOrChoice(minimum: Int, choices: [String])
        /// A whole number, `[height, width]`, or one of the words (`padding: 1`, `[1, 2]` or `same`).
        case pairOrChoice(minimum: Int, choices: [String])

        /// How the type reads in the layer reference.
        public var description: String {
            switch self {
            case .integer(let minimum): return "integer ≥ \(minimum)"
            case .pair(let minimum): return "integer ≥ \(minimum) or [height, width]"
            case .number(_, let what): return "number, \(what)"
            case .bool: return "true or false"
            case .choice(let words): return Self.listed(words)
            case .integerOrChoice(let minimum, let words): return "integer ≥ \(minimum) or " + Self.listed(words)
            case .pairOrChoice(let minimum, let words): return "integer ≥ \(minimum), [height, width], " + Self.listed(words)
            }
        }

        /// `a, b or c`.
        public static func listed(_ words: [String]) -> String {
            words.dropLast().joined(separator: ", ") + (words.count > 1 ? " or " : "") + (words.last ?? "")
        }
    }

    /// Canonical spelling.
    public var name: String
    /// PyTorch's argument names and other accepted spellings (`kernel_size` for `kernel`).
    public var aliases: [String]
    public var type: ValueType
    /// The value used when the key is not written; nil when there is none (required, or derived — see `defaultText`).
    public var defaultValue: LayerValue?
    /// Whether the key must be written.
    public var isRequired: Bool
    /// How the default reads in the reference when it is derived from other keys or the input ("the kernel", "inferred").
    public var derivedDefault: String?
    /// One line for the reference.
    public var summary: String

    public init(_ name: String, _ type: ValueType, aliases: [String] = [], default defaultValue: LayerValue? = nil,
                required: Bool = false, derivedDefault: String? = nil, summary: String) {
        self.name = name; self.aliases = aliases; self.type = type; self.defaultValue = defaultValue
        self.isRequired = required; self.derivedDefault = derivedDefault; self.summary = summary
    }

    /// Whether a YAML list is a valid value (`[height, width]`), so a list short form can set this key.
    public var acceptsList: Bool {
        switch type {
        case .pair, .pairOrChoice: return true
        case .integer, .number, .bool, .choice, .integerOrChoice: return false
        }
    }

    /// The default as the reference shows it.
    public var defaultText: String {
        if isRequired { return "required" }
        if let defaultValue { return defaultValue.description }
        return derivedDefault ?? "—"
    }
}

/// A checked hyperparameter value.
public enum LayerValue: Sendable, Hashable, CustomStringConvertible {
    case integer(Int)
    case pair(Pair2D)
    case number(Float)
    case bool(Bool)
    /// A word from the key's choices, lower-cased.
    case word(String)

    public var description: String {
        switch self {
        case .integer(let value): return String(value)
        case .pair(let pair): return pair.height == pair.width ? String(pair.height) : "[\(pair.height), \(pair.width)]"
        case .number(let value): return "\(value)"
        case .bool(let value): return String(value)
        case .word(let word): return word
        }
    }
}

/// A layer's hyperparameters after checking against its keys: written values, else the keys' defaults.
public struct LayerArguments: Sendable {
    public let definition: LayerDefinition
    private let written: [String: (value: LayerValue, location: SourceLocation)]
    /// The key as the user wrote it, by canonical key, where it differs (an alias: `num_features`).
    private let spellings: [String: String]

    public init(definition: LayerDefinition, written: [String: (value: LayerValue, location: SourceLocation)],
                spellings: [String: String] = [:]) {
        self.definition = definition
        self.written = written
        self.spellings = spellings
    }

    /// `key` as the user wrote it (an alias such as `num_features` for `channels`), for messages.
    public func spelling(of key: String) -> String { spellings[key] ?? key }

    /// The value of `key`, written or default.
    public func value(_ key: String) -> LayerValue? { written[key]?.value ?? definition.key(key)?.defaultValue }
    /// Whether `key` was written in the file.
    public func isWritten(_ key: String) -> Bool { written[key] != nil }
    /// Where `key`'s value is written, if it is.
    public func location(of key: String) -> SourceLocation? { written[key]?.location }

    public func integer(_ key: String) -> Int? {
        if case .integer(let value)? = value(key) { return value }
        return nil
    }

    /// A pair; a single integer reads as a square pair.
    public func pair(_ key: String) -> Pair2D? {
        switch value(key) {
        case .pair(let pair)?: return pair
        case .integer(let value)?: return Pair2D(square: value)
        default: return nil
        }
    }

    public func number(_ key: String) -> Float? {
        if case .number(let value)? = value(key) { return value }
        return nil
    }

    public func bool(_ key: String) -> Bool? {
        if case .bool(let value)? = value(key) { return value }
        return nil
    }

    public func word(_ key: String) -> String? {
        if case .word(let word)? = value(key) { return word }
        return nil
    }
}
