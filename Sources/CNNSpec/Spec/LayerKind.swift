/// The layer kinds a model file may name, with the spellings people copy from PyTorch.
enum LayerKind: String, CaseIterable, Sendable {
    case conv2d
    case maxpool
    case avgpool
    case globalAvgpool = "global_avgpool"
    case relu
    case leakyRelu = "leaky_relu"
    case sigmoid
    case tanh
    case flatten
    case linear
    case dropout
    case dropout2d
    case batchnorm2d
    case add
    case concat

    /// Other accepted spellings (PyTorch class names in lower case, common short forms).
    static let aliases: [String: LayerKind] = [
        "conv": .conv2d, "convolution": .conv2d,
        "maxpool2d": .maxpool, "max_pool": .maxpool, "max_pool2d": .maxpool,
        "avgpool2d": .avgpool, "avg_pool": .avgpool, "avg_pool2d": .avgpool,
        "global_avg_pool": .globalAvgpool, "adaptive_avgpool": .globalAvgpool,
        "leakyrelu": .leakyRelu,
        "fc": .linear, "dense": .linear,
        "batchnorm": .batchnorm2d, "bn": .batchnorm2d, "batch_norm": .batchnorm2d,
        "cat": .concat,
    ]

    /// Every spelling, for did-you-mean suggestions.
    static var allSpellings: [String] { allCases.map(\.rawValue) + aliases.keys.sorted() }

    /// The kind a word in the file names, if any (case-insensitive).
    static func named(_ word: String) -> LayerKind? {
        let lowered = word.lowercased()
        return LayerKind(rawValue: lowered) ?? aliases[lowered]
    }

    /// Hyperparameter keys in their canonical spelling.
    var parameterKeys: [String] {
        switch self {
        case .conv2d: return ["out", "in", "kernel", "stride", "padding", "bias", "backend"]
        case .maxpool: return ["kernel", "stride", "padding"]
        case .avgpool: return ["kernel", "stride", "padding", "count_include_pad"]
        case .leakyRelu: return ["negative_slope"]
        case .linear: return ["out", "in", "bias"]
        case .dropout, .dropout2d: return ["p"]
        case .batchnorm2d: return ["channels", "eps", "momentum"]
        case .globalAvgpool, .relu, .sigmoid, .tanh, .flatten, .add, .concat: return []
        }
    }

    /// PyTorch's argument names, accepted as synonyms of the canonical keys.
    var keyAliases: [String: String] {
        switch self {
        case .conv2d: return ["out_channels": "out", "in_channels": "in", "kernel_size": "kernel"]
        case .maxpool, .avgpool: return ["kernel_size": "kernel"]
        case .leakyRelu: return ["slope": "negative_slope"]
        case .linear: return ["out_features": "out", "in_features": "in"]
        case .batchnorm2d: return ["num_features": "channels"]
        default: return [:]
        }
    }

    /// The key a scalar short form sets (`- maxpool: 2` is the kernel, `- linear: 10` the output size).
    var shortFormKey: String? {
        switch self {
        case .conv2d, .linear: return "out"
        case .maxpool, .avgpool: return "kernel"
        case .leakyRelu: return "negative_slope"
        case .dropout, .dropout2d: return "p"
        case .batchnorm2d: return "channels"
        case .globalAvgpool, .relu, .sigmoid, .tanh, .flatten, .add, .concat: return nil
        }
    }

    /// Stem of automatic names (`conv1`, `fc2`, `bn1`, …).
    var autoNameStem: String {
        switch self {
        case .conv2d: return "conv"
        case .linear: return "fc"
        case .batchnorm2d: return "bn"
        case .globalAvgpool: return "avgpool"
        case .leakyRelu: return "leaky_relu"
        default: return rawValue
        }
    }

    /// Whether the layer merges several inputs.
    var isMerge: Bool { self == .add || self == .concat }
}

/// PyTorch arguments cnnspec does not implement; named explicitly so the error is not a vague "unknown key".
let unsupportedPyTorchKeys: [String: String] = [
    "dilation": "dilated convolutions are not supported",
    "groups": "grouped convolutions are not supported (AlexNet is written without groups)",
    "ceil_mode": "pooling always uses PyTorch's default floor mode",
    "padding_mode": "only zero padding is supported",
    "return_indices": "pooling indices are not returned",
]
