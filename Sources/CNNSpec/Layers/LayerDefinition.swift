/// Everything cnnspec knows about one layer kind, in one value: its YAML spelling, its keys (types,
/// defaults, valid ranges), its short form, its shape rule with explained errors and what it computes.
///
/// Definitions live one file per kind (or family) in `Sources/CNNLayers/Kinds/`; the parser, shape
/// inference, `shapes`, the `layers` reference, parameter storage, checkpoints and the executor all
/// read them, so adding a kind is its definition, its kernel, its tests and its docs (docs/adding-a-layer.md).
public struct LayerDefinition: Sendable {
    /// How many inputs a layer of this kind reads.
    public enum Arity: Sendable, Equatable {
        /// The layer before it, or the one named by `from:`.
        case single
        /// Two or more layers named by `from:` (the layer before it is added when only one is named).
        case merge
    }

    /// The canonical YAML name (`conv2d`).
    public var name: String
    /// Other accepted spellings: PyTorch class names in lower case, common short forms.
    public var synonyms: [String]
    /// One line for the layer reference (`cnnspec layers`, docs/layers.md).
    public var summary: String
    /// The hyperparameters a layer of this kind takes (besides `name` and `from`).
    public var keys: [LayerKey]
    /// The key a scalar (or list) short form sets: `- maxpool: 2` is the kernel, `- linear: 10` the output size.
    public var shortFormKey: String?
    /// Stem of automatic names (`conv1`, `fc2`).
    public var autoNameStem: String
    public var arity: Arity
    /// True when a feature map given to this kind is flattened first (an implicit `flatten` node), as `linear` does.
    public var flattensFeatureMaps: Bool
    /// An example of the full form, for hints.
    public var example: String
    /// The kind-specific fields its operations write in `shapes --format json`, in their order (the fields
    /// list of docs/model-yaml.md is generated from these; `LayerCatalogTests` checks the operations write them).
    public var jsonFields: [JSONField]
    /// The shape rule: the operation and output shape for these arguments and inputs, or nil after
    /// reporting why (through `context`) the layer cannot be built.
    public var infer: @Sendable (_ arguments: LayerArguments, _ context: ShapeContext) -> InferredLayer?

    public init(name: String, synonyms: [String] = [], summary: String, keys: [LayerKey] = [], shortFormKey: String? = nil,
                autoNameStem: String? = nil, arity: Arity = .single, flattensFeatureMaps: Bool = false, example: String? = nil,
                jsonFields: [JSONField] = [],
                infer: @escaping @Sendable (_ arguments: LayerArguments, _ context: ShapeContext) -> InferredLayer?) {
        self.name = name
        self.synonyms = synonyms
        self.summary = summary
        self.keys = keys
        self.shortFormKey = shortFormKey
        self.autoNameStem = autoNameStem ?? name
        self.arity = arity
        self.flattensFeatureMaps = flattensFeatureMaps
        self.example = example ?? "- \(name)"
        self.jsonFields = jsonFields
        self.infer = infer
    }

    /// The key called `name` (canonical spelling), if this kind has one.
    public func key(_ name: String) -> LayerKey? { keys.first { $0.name == name } }

    /// The canonical key a written key stands for (`kernel_size` → `kernel`), if any.
    public func canonicalKey(_ written: String) -> String? {
        keys.first { $0.name == written || $0.aliases.contains(written) }?.name
    }
}

/// A kind-specific field of `shapes --format json`: its key and, when the value needs explaining, a note.
public struct JSONField: Sendable, Equatable, ExpressibleByStringLiteral {
    public var key: String
    /// Shown after the key in docs/model-yaml.md: `when written`, `[h, w] when symmetric, …`.
    public var note: String?

    public init(_ key: String, note: String? = nil) { self.key = key; self.note = note }
    public init(stringLiteral key: String) { self.init(key) }
}

/// What shape inference makes of one layer.
public struct InferredLayer: Sendable {
    public var operation: any LayerOperation
    public var shape: TensorShape
    /// Multiply-accumulates for one image's forward pass.
    public var macs: Int

    public init(_ operation: any LayerOperation, shape: TensorShape, macs: Int = 0) {
        self.operation = operation; self.shape = shape; self.macs = macs
    }
}

/// What a graph node computes, with every hyperparameter resolved against its input shapes.
///
/// Conforming types live beside their `LayerDefinition`; the executor's extension of this protocol
/// (`ExecutableOperation` in CNNLayers) builds the layer that runs it.
public protocol LayerOperation: Sendable {
    /// The kind's canonical name, as tables and JSON show it (`conv2d`).
    var kindName: String { get }
    /// Tensors the layer owns, by PyTorch `state_dict` suffix, in checkpoint order.
    var parameters: [ParameterDeclaration] { get }
    /// The `k/s/p` column of `cnnspec shapes`: `k5 s1 p2`, `p 0.25`, or empty.
    var summary: String { get }
    /// The hyperparameters in `shapes --format json` (a stable interface, docs/model-yaml.md).
    var jsonFields: [(key: String, value: JSONValue)] { get }
    /// True when the output is the input itself, reinterpreted (flatten, identity): no buffer, no work.
    var isView: Bool { get }
}

extension LayerOperation {
    public var parameters: [ParameterDeclaration] { [] }
    public var summary: String { "" }
    public var jsonFields: [(key: String, value: JSONValue)] { [] }
    public var isView: Bool { false }
}

/// A value in the `shapes` JSON.
public enum JSONValue: Sendable, Equatable {
    case integer(Int)
    case number(Float)
    case bool(Bool)
    case string(String)
    case integers([Int])

    /// A key's value as the shapes JSON writes it (a word as a string, a pair as two integers).
    public init(_ value: LayerValue) {
        switch value {
        case .integer(let integer): self = .integer(integer)
        case .pair(let pair): self = .integers([pair.height, pair.width])
        case .number(let number): self = .number(number)
        case .bool(let bool): self = .bool(bool)
        case .word(let word): self = .string(word)
        }
    }

    /// The value as the shapes table shows it (strings unquoted).
    public var plainText: String {
        if case .string(let value) = self { return value }
        return text
    }

    /// The JSON text of the value.
    public var text: String {
        switch self {
        case .integer(let value): return String(value)
        case .number(let value): return value.isFinite ? "\(value)" : "null"
        case .bool(let value): return String(value)
        case .string(let value): return JSONText.quoted(value)
        case .integers(let values): return "[" + values.map(String.init).joined(separator: ", ") + "]"
        }
    }
}

/// One tensor a layer owns: its `state_dict` suffix, shape, whether the optimizer trains it, and
/// PyTorch's default initialisation.
public struct ParameterDeclaration: Sendable, Equatable {
    /// How PyTorch initialises the tensor when the module is built.
    public enum Initialization: Sendable, Equatable {
        /// U(−1/√fanIn, 1/√fanIn): kaiming_uniform(a = √5) for weights, and the matching bias bound.
        case uniform(fanIn: Int)
        case constant(Float)
    }

    /// `weight`, `bias`, `running_mean`…; the checkpoint name is `layer.suffix`.
    public var suffix: String
    public var shape: [Int]
    /// False for buffers such as running statistics.
    public var isTrainable: Bool
    public var initialization: Initialization
    /// Stored as int64 in PyTorch's files (`num_batches_tracked`).
    public var isInteger: Bool

    public init(_ suffix: String, shape: [Int], trainable: Bool = true, initialization: Initialization, isInteger: Bool = false) {
        self.suffix = suffix; self.shape = shape; self.isTrainable = trainable
        self.initialization = initialization; self.isInteger = isInteger
    }

    /// Number of scalars (1 for a scalar tensor of shape []).
    public var count: Int { shape.reduce(1, *) }
}
