import Foundation

/// One key of the run-config YAML, declared once in `ConfigSchema.keys`: its dotted path, the field
/// of `RunConfig` it fills, its type and valid values, and one line saying what it does.
///
/// Everything that knows about config keys reads these declarations: the decoder (allowed keys,
/// did-you-mean, typed reading with located errors), `--set` and sweep key validation, the resolved
/// `config.yaml` writer, `cnnspec config --explain/--defaults` and the key table of docs/run-config.md.
/// A key's default is the default of the `RunConfig` field it fills (the struct is what code-built
/// configs use), so the two cannot disagree; `derivedDefault` words defaults that follow other keys.
public struct ConfigKey: Sendable {
    /// What a key's YAML value is.
    public enum Shape: Sendable {
        /// A value (scalar, list or a small mapping read by the key itself).
        case value
        /// A mapping of further keys, written as a block or, when short, as a flow mapping `{a: 1, b: 2}`.
        case section(SectionStyle)
        /// A mapping of further keys that may be null (absent = the feature is off), e.g. `train.early_stopping`.
        case optionalSection(SectionStyle)
    }

    /// How a section is written in the resolved config.
    public enum SectionStyle: Sendable { case block, flow }

    /// Whether the resolved config always shows the key. Keys added after resolved configs were first
    /// written are shown only when not at their default, so that older runs' config hashes stay the same.
    public enum WritePolicy: Sendable { case always, unlessDefault }

    /// The dotted path, e.g. `train.optimizer.lr`.
    public let path: String
    public let shape: Shape
    /// The type and valid values, as the reference shows them ("integer 1…65536", "sgd | adam | adamw").
    public let typeText: String
    /// One line for the reference.
    public let summary: String
    /// How the default reads when it follows other keys ("batch_size"); nil shows the field's default.
    public let derivedDefault: String?
    /// Set for keys that only some choices of a section's `name` take (sgd's `momentum`, step's `gamma`).
    public let variant: ConfigVariantFamily?
    /// Whether further path components may follow in `--set` and sweep keys (`train.layer_backends.cnn1`).
    public let acceptsSubkeys: Bool
    /// A value shown where the key has no default (`model`).
    public internal(set) var example: String?
    /// For a value key that also takes a mapping: the mapping key a plain scalar stands for (`model: FILE`
    /// is `model: {file: FILE}`), so `--set model.args.classes=5` can extend a scalar.
    public internal(set) var shorthand: String?
    let writePolicy: WritePolicy
    /// Reads the key's node (nil when absent) into the config being decoded.
    let read: @Sendable (inout ConfigDecoding, YAMLNode?) -> Void
    /// The value as resolved-config YAML; nil leaves the key out.
    let write: @Sendable (RunConfig) -> ConfigText?
    /// Optional sections: whether the config has it, and how to switch it on before its keys are read.
    let isPresent: (@Sendable (RunConfig) -> Bool)?
    let create: (@Sendable (inout RunConfig) -> Void)?

    init(_ path: String, shape: Shape = .value, type typeText: String, summary: String, derivedDefault: String? = nil,
         variant: ConfigVariantFamily? = nil, acceptsSubkeys: Bool = false,
         written writePolicy: WritePolicy = .always,
         read: @escaping @Sendable (inout ConfigDecoding, YAMLNode?) -> Void,
         write: @escaping @Sendable (RunConfig) -> ConfigText?,
         isPresent: (@Sendable (RunConfig) -> Bool)? = nil, create: (@Sendable (inout RunConfig) -> Void)? = nil) {
        self.path = path; self.shape = shape; self.typeText = typeText; self.summary = summary
        self.derivedDefault = derivedDefault; self.variant = variant
        self.acceptsSubkeys = acceptsSubkeys; self.writePolicy = writePolicy; self.read = read; self.write = write
        self.isPresent = isPresent; self.create = create
    }

    /// The last path component, as written in its mapping.
    public var name: String { path.split(separator: ".").last.map(String.init) ?? path }
    /// The path of the section holding the key; "" for top-level keys.
    public var parent: String {
        guard let dot = path.lastIndex(of: ".") else { return "" }
        return String(path[..<dot])
    }

    public var isSection: Bool {
        if case .value = shape { return false }
        return true
    }

    /// The default as the reference shows it.
    public var defaultText: String {
        if let derivedDefault { return derivedDefault }
        if case .section = shape { return "" }
        if case .optionalSection = shape { return "null" }
        return defaultWritten?.inline ?? "null"
    }

    /// The key's value in a config with every default; keys inside an optional section (`early_stopping`)
    /// show their value once the section is switched on.
    var defaultWritten: ConfigText? {
        var config = ConfigSchema.defaults
        var section = parent
        while !section.isEmpty, let key = ConfigSchema.key(section) {
            if let create = key.create, key.isPresent?(config) == false { create(&config) }
            section = key.parent
        }
        return write(config)
    }

    /// The choices of the section's `name` that take this key, e.g. `["adam", "adamw"]` for `betas`.
    public var takenBy: [String] { variant?.users(of: name) ?? [] }
}

/// A key's value in the resolved config: one line, or a block list (`- scale` lines).
public enum ConfigText: Sendable, Equatable {
    case inline(String)
    case blockList([String])

    /// The value on one line (a block list as a flow list).
    public var inline: String {
        switch self {
        case .inline(let text): return text
        case .blockList(let items): return "[" + items.joined(separator: ", ") + "]"
        }
    }
}

/// The state of one decode: the reader collecting diagnostics, where the file is, and the config so far.
/// Keys are read in declaration order, so a key may use keys declared before it (`lr` after `name`).
struct ConfigDecoding {
    let reader: ValueReader
    /// The config file as named in messages.
    let file: String
    /// The path model paths are resolved against.
    let configPath: String
    var config: RunConfig
    /// Where a missing required key is reported.
    var fileStart: SourceLocation { SourceLocation(file: file, line: 1, column: 1) }
}

/// The sections whose keys depend on the chosen `name`: which choice takes which keys is declared
/// once per choice in `OptimizerProfile` and `ScheduleProfile`.
public enum ConfigVariantFamily: String, Sendable {
    case optimizer, schedule

    /// The section holding the keys, e.g. `train.optimizer`.
    public var sectionPath: String { "train." + rawValue }

    /// The choices that take `key`.
    public func users(of key: String) -> [String] {
        switch self {
        case .optimizer: return OptimizerName.allCases.filter { OptimizerProfile.of($0).keys.contains(key) }.map(\.rawValue)
        case .schedule: return ScheduleName.allCases.filter { ScheduleProfile.of($0).keys.contains(key) }.map(\.rawValue)
        }
    }

    /// The choice made in `config`.
    func chosen(in config: RunConfig) -> String {
        switch self {
        case .optimizer: return config.train.optimizer.name.rawValue
        case .schedule: return config.train.schedule.name.rawValue
        }
    }

    /// Whether the choice made in `config` takes `key`.
    func takes(_ key: String, in config: RunConfig) -> Bool {
        switch self {
        case .optimizer: return OptimizerProfile.of(config.train.optimizer.name).keys.contains(key)
        case .schedule: return ScheduleProfile.of(config.train.schedule.name).keys.contains(key)
        }
    }
}

/// What each optimizer takes besides `name`, `lr` and `weight_decay`, and its PyTorch defaults.
/// Adding an optimizer is its `OptimizerName` case plus one line here (the switch has no `default:`,
/// so the compiler asks for it).
public struct OptimizerProfile: Sendable {
    /// The variant keys of `train.optimizer` this optimizer reads; the others are refused.
    public let keys: Set<String>
    /// PyTorch's default `lr`.
    public let learningRate: Double
    /// PyTorch's default `weight_decay`.
    public let weightDecay: Double

    init(keys: Set<String>, learningRate: Double, weightDecay: Double = 0) {
        self.keys = keys; self.learningRate = learningRate; self.weightDecay = weightDecay
    }

    public static func of(_ name: OptimizerName) -> OptimizerProfile {
        switch name {
        case .sgd: return OptimizerProfile(keys: ["momentum", "dampening", "nesterov"], learningRate: 0.01)
        case .adam: return OptimizerProfile(keys: ["betas", "eps"], learningRate: 0.001)
        case .adamw: return OptimizerProfile(keys: ["betas", "eps"], learningRate: 0.001, weightDecay: 0.01)
        case .rmsprop: return OptimizerProfile(keys: ["momentum", "eps", "alpha", "centered"], learningRate: 0.01)
        }
    }
}

/// What each schedule takes besides `name` and the warm-up keys. Adding a schedule is its
/// `ScheduleName` case plus one line here.
public struct ScheduleProfile: Sendable {
    /// The variant keys of `train.schedule` this schedule reads; the others are refused.
    public let keys: Set<String>

    public static func of(_ name: ScheduleName) -> ScheduleProfile {
        switch name {
        case .constant: return ScheduleProfile(keys: [])
        case .step: return ScheduleProfile(keys: ["step_size", "gamma"])
        case .multistep: return ScheduleProfile(keys: ["milestones", "gamma"])
        case .exponential: return ScheduleProfile(keys: ["gamma"])
        case .cosine: return ScheduleProfile(keys: ["t_max", "eta_min"])
        case .reduceOnPlateau:
            return ScheduleProfile(keys: ["metric", "factor", "patience", "threshold", "threshold_mode", "cooldown", "min_lr"])
        case .oneCycle:
            return ScheduleProfile(keys: ["max_lr", "pct_start", "anneal_strategy", "div_factor", "final_div_factor",
                                          "three_phase", "cycle_momentum", "base_momentum", "max_momentum"])
        }
    }
}

/// A number's valid interval, e.g. (0, 1] or [0, ∞).
struct NumberRange: Sendable {
    var lower: Double
    var upper: Double
    var lowerOpen = false
    var upperOpen = false

    /// No upper bound.
    static let unbounded = Double.greatestFiniteMagnitude

    static func closed(_ lower: Double, _ upper: Double) -> NumberRange { NumberRange(lower: lower, upper: upper) }
    static func positive(upTo upper: Double = unbounded) -> NumberRange {
        NumberRange(lower: 0, upper: upper, lowerOpen: true)
    }
    static func nonNegative(upTo upper: Double = unbounded) -> NumberRange { NumberRange(lower: 0, upper: upper) }
    /// [lower, upper)
    static func halfOpen(_ lower: Double, _ upper: Double) -> NumberRange {
        NumberRange(lower: lower, upper: upper, upperOpen: true)
    }
    /// (lower, upper)
    static func open(_ lower: Double, _ upper: Double) -> NumberRange {
        NumberRange(lower: lower, upper: upper, lowerOpen: true, upperOpen: true)
    }

    /// As the reference shows it: `> 0`, `≥ 0`, `[0, 1)`.
    var description: String {
        if upper == Self.unbounded { return (lowerOpen ? "> " : "≥ ") + ConfigSchema.numberText(lower) }
        return (lowerOpen ? "(" : "[") + ConfigSchema.numberText(lower) + ", " + ConfigSchema.numberText(upper)
            + (upperOpen ? ")" : "]")
    }
}

// MARK: - Declaring keys

/// A field of `RunConfig` a key fills (sendable, so the declarations can be a constant).
typealias ConfigField<Value> = WritableKeyPath<RunConfig, Value> & Sendable

extension ConfigKey {
    /// A mapping of further keys.
    static func section(_ path: String, _ style: SectionStyle, _ summary: String) -> ConfigKey {
        ConfigKey(path, shape: .section(style), type: "mapping", summary: summary, read: { _, _ in }, write: { _ in nil })
    }

    /// A mapping of further keys that may be null or absent: the feature is then off.
    static func optionalSection(_ path: String, _ style: SectionStyle, written: WritePolicy = .always, _ summary: String,
                                isPresent: @escaping @Sendable (RunConfig) -> Bool,
                                create: @escaping @Sendable (inout RunConfig) -> Void) -> ConfigKey {
        ConfigKey(path, shape: .optionalSection(style), type: "mapping or null", summary: summary, written: written,
                  read: { _, _ in }, write: { _ in nil }, isPresent: isPresent, create: create)
    }

    /// A key read and written by its own code (lists, durations, values that fill several fields).
    static func custom(_ path: String, type: String, summary: String, derivedDefault: String? = nil, example: String? = nil,
                       variant: ConfigVariantFamily? = nil, acceptsSubkeys: Bool = false, shorthand: String? = nil,
                       written: WritePolicy = .always,
                       read: @escaping @Sendable (inout ConfigDecoding, YAMLNode?) -> Void,
                       write: @escaping @Sendable (RunConfig) -> ConfigText?) -> ConfigKey {
        var key = ConfigKey(path, type: type, summary: summary, derivedDefault: derivedDefault, variant: variant,
                            acceptsSubkeys: acceptsSubkeys, written: written, read: read, write: write)
        key.example = example
        key.shorthand = shorthand
        return key
    }

    /// A whole number in `range`.
    static func integer(_ path: String, _ field: ConfigField<Int>, _ range: ClosedRange<Int>,
                        variant: ConfigVariantFamily? = nil, written: WritePolicy = .always, _ summary: String) -> ConfigKey {
        ConfigKey(path, type: ConfigSchema.integerText(range), summary: summary, variant: variant, written: written,
                  read: { state, node in
                      state.config[keyPath: field] = state.reader.int(node, path: path, default: state.config[keyPath: field],
                                                                      minimum: range.lowerBound, maximum: range.upperBound)
                  }, write: { .inline("\($0[keyPath: field])") })
    }

    /// A whole number in `range`, or null.
    static func optionalInteger(_ path: String, _ field: ConfigField<Int?>, _ range: ClosedRange<Int>,
                                variant: ConfigVariantFamily? = nil, written: WritePolicy = .always,
                                _ summary: String) -> ConfigKey {
        ConfigKey(path, type: ConfigSchema.integerText(range) + " or null", summary: summary, variant: variant, written: written,
                  read: { state, node in
                      if let value = state.reader.optionalInt(node, path: path, minimum: range.lowerBound, maximum: range.upperBound) {
                          state.config[keyPath: field] = value
                      }
                  }, write: { .inline($0[keyPath: field].map(String.init) ?? "null") })
    }

    /// A number in `range`; null keeps the default (which `derivedDefault` words when it follows other keys).
    static func number(_ path: String, _ field: ConfigField<Double>, _ range: NumberRange, variant: ConfigVariantFamily? = nil,
                       derivedDefault: String? = nil, written: WritePolicy = .always, _ summary: String) -> ConfigKey {
        ConfigKey(path, type: "number " + range.description, summary: summary, derivedDefault: derivedDefault,
                  variant: variant, written: written,
                  read: { state, node in
                      state.config[keyPath: field] = state.reader.double(
                          node, path: path, default: state.config[keyPath: field], range: range.lower...range.upper,
                          excludingUpper: range.upperOpen, excludingLower: range.lowerOpen)
                  }, write: { .inline(ConfigSchema.number($0[keyPath: field])) })
    }

    /// A number in `range`, or null.
    static func optionalNumber(_ path: String, _ field: ConfigField<Double?>, _ range: NumberRange,
                               variant: ConfigVariantFamily? = nil, written: WritePolicy = .always,
                               _ summary: String) -> ConfigKey {
        ConfigKey(path, type: "number " + range.description + " or null", summary: summary, variant: variant, written: written,
                  read: { state, node in
                      if let value = state.reader.optionalDouble(node, path: path, range: range.lower...range.upper,
                                                                 excludingUpper: range.upperOpen, excludingLower: range.lowerOpen) {
                          state.config[keyPath: field] = value
                      }
                  }, write: { .inline($0[keyPath: field].map(ConfigSchema.number) ?? "null") })
    }

    static func bool(_ path: String, _ field: ConfigField<Bool>, variant: ConfigVariantFamily? = nil,
                     written: WritePolicy = .always, _ summary: String) -> ConfigKey {
        ConfigKey(path, type: "true or false", summary: summary, variant: variant, written: written,
                  read: { state, node in
                      state.config[keyPath: field] = state.reader.bool(node, path: path, default: state.config[keyPath: field])
                  }, write: { .inline("\($0[keyPath: field])") })
    }

    /// One of `E`'s raw values.
    static func choice<E: RawRepresentable & CaseIterable & Sendable>(
        _ path: String, _ field: ConfigField<E>, variant: ConfigVariantFamily? = nil, written: WritePolicy = .always,
        _ summary: String) -> ConfigKey where E.RawValue == String {
        let names = E.allCases.map(\.rawValue)
        return ConfigKey(path, type: ConfigSchema.listed(names), summary: summary, variant: variant,
                         written: written,
                         read: { state, node in
                             state.config[keyPath: field] = state.reader.choice(node, path: path, default: state.config[keyPath: field])
                         }, write: { .inline($0[keyPath: field].rawValue) })
    }

    /// A single value, or null. Empty text ("") is refused: it would silently mean the default.
    static func optionalString(_ path: String, _ field: ConfigField<String?>, _ summary: String) -> ConfigKey {
        ConfigKey(path, type: "text or null", summary: summary,
                  read: { state, node in
                      guard let text = state.reader.string(node, path: path) else { return }
                      guard !text.isEmpty else {
                          state.reader.error("'\(path)' is empty text", at: node, fallback: nil,
                                             hint: "give a path, or write null (~) or leave the key out for the default")
                          return
                      }
                      state.config[keyPath: field] = text
                  }, write: { .inline($0[keyPath: field].map(JSONText.quoted) ?? "null") })
    }
}

// MARK: - Wording

extension ConfigSchema {
    /// Shortest text that reads back as the same Double (the resolved config's numbers).
    static func number(_ value: Double) -> String { "\(value)" }

    /// A number for the reference: whole numbers without ".0".
    static func numberText(_ value: Double) -> String {
        value.rounded() == value && abs(value) < 1e15 ? "\(Int(value))" : "\(value)"
    }

    /// `1,000,000`.
    static func grouped(_ value: Int) -> String {
        let digits = String(value.magnitude)
        var result = ""
        for (index, digit) in digits.enumerated() {
            if index > 0 && (digits.count - index) % 3 == 0 { result += "," }
            result.append(digit)
        }
        return (value < 0 ? "-" : "") + result
    }

    static func integerText(_ range: ClosedRange<Int>) -> String {
        "integer \(grouped(range.lowerBound))…\(grouped(range.upperBound))"
    }

    /// `a | b | c`, as choices read in the reference.
    static func listed(_ words: [String]) -> String { words.joined(separator: " | ") }

    /// `a, b and c`, as the users of a key read in messages.
    static func enumerated(_ words: [String]) -> String {
        words.count <= 1 ? words.joined() : words.dropLast().joined(separator: ", ") + " and " + (words.last ?? "")
    }

    /// A default that depends on the optimizer, e.g. "0.01 for sgd; 0.001 for adam, adamw".
    static func perOptimizer(_ value: (OptimizerProfile) -> Double) -> String {
        var groups: [(value: Double, names: [String])] = []
        for name in OptimizerName.allCases {
            let chosen = value(OptimizerProfile.of(name))
            if let index = groups.firstIndex(where: { $0.value == chosen }) {
                groups[index].names.append(name.rawValue)
            } else {
                groups.append((chosen, [name.rawValue]))
            }
        }
        if groups.count == 1 { return numberText(groups[0].value) }
        return groups.map { "\(numberText($0.value)) for \($0.names.joined(separator: ", "))" }.joined(separator: "; ")
    }
}
