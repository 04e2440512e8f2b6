import CNNKernels
import CNNSpec

/// Point-wise activations: each is a name, its keys and the kernel's `ActivationKind` they select.
extension LayerDefinition {
    public static let relu = ActivationOperation.definition(name: "relu", summary: "max(0, x) (torch.nn.ReLU)") { _ in .relu }

    public static let leakyRelu = ActivationOperation.definition(
        name: "leaky_relu", synonyms: ["leakyrelu"], summary: "x for x ≥ 0, slope·x below (torch.nn.LeakyReLU)",
        keys: [LayerKey("negative_slope", .number(-1_000...1_000, what: "a number between -1000 and 1000"), aliases: ["slope"],
                        default: .number(0.01), summary: "slope for negative inputs")],
        shortFormKey: "negative_slope",
        describe: { arguments in [("slope", "negative_slope", .number(arguments.number("negative_slope") ?? 0.01))] },
        kind: { arguments in .leakyRelu(negativeSlope: arguments.number("negative_slope") ?? 0.01) })

    public static let sigmoid = ActivationOperation.definition(name: "sigmoid", summary: "1/(1 + e^−x) (torch.nn.Sigmoid)") { _ in .sigmoid }

    public static let tanh = ActivationOperation.definition(name: "tanh", summary: "hyperbolic tangent (torch.nn.Tanh)") { _ in .tanh }

    public static let gelu = ActivationOperation.definition(
        name: "gelu", summary: "x·Φ(x) (torch.nn.GELU); approximate: tanh for the tanh form",
        keys: [LayerKey("approximate", .choice(["none", "tanh"]), default: .word("none"), summary: "PyTorch's approximate")],
        shortFormKey: "approximate",
        describe: { arguments in arguments.word("approximate") == "tanh" ? [("approximate", "approximate", .string("tanh"))] : [] },
        kind: { arguments in arguments.word("approximate") == "tanh" ? .geluTanh : .gelu })

    public static let silu = ActivationOperation.definition(name: "silu", synonyms: ["swish"], summary: "x·σ(x) (torch.nn.SiLU)") { _ in .silu }

    public static let elu = ActivationOperation.definition(
        name: "elu", summary: "x for x > 0, alpha·(eˣ − 1) below (torch.nn.ELU)",
        keys: [LayerKey("alpha", .number(0...1_000, what: "a number between 0 and 1000"), default: .number(1), summary: "scale of the negative part")],
        shortFormKey: "alpha",
        describe: { arguments in [("alpha", "alpha", .number(arguments.number("alpha") ?? 1))] },
        kind: { arguments in .elu(alpha: arguments.number("alpha") ?? 1) })

    public static let relu6 = ActivationOperation.definition(name: "relu6", summary: "min(max(0, x), 6) (torch.nn.ReLU6)") { _ in .relu6 }

    public static let hardswish = ActivationOperation.definition(
        name: "hardswish", synonyms: ["hard_swish"], summary: "x·relu6(x + 3)/6 (torch.nn.Hardswish)") { _ in .hardswish }

    public static let hardsigmoid = ActivationOperation.definition(
        name: "hardsigmoid", synonyms: ["hard_sigmoid"], summary: "relu6(x + 3)/6 (torch.nn.Hardsigmoid)") { _ in .hardsigmoid }

    public static let mish = ActivationOperation.definition(name: "mish", summary: "x·tanh(softplus(x)) (torch.nn.Mish)") { _ in .mish }

    public static let softplus = ActivationOperation.definition(
        name: "softplus", summary: "log(1 + e^(beta·x))/beta, x itself above the threshold (torch.nn.Softplus)",
        keys: [LayerKey("beta", .number(1e-6...1_000, what: "a positive number up to 1000"), default: .number(1), summary: "sharpness"),
               LayerKey("threshold", .number(0...1_000, what: "a number between 0 and 1000"), default: .number(20),
                        summary: "beta·x above which the output is x")],
        describe: { arguments in
            [("beta", "beta", .number(arguments.number("beta") ?? 1)), ("threshold", "threshold", .number(arguments.number("threshold") ?? 20))]
        },
        kind: { arguments in .softplus(beta: arguments.number("beta") ?? 1, threshold: arguments.number("threshold") ?? 20) })
}

/// An element-wise non-linearity; the output has the input's shape.
public struct ActivationOperation: ExecutableOperation {
    public var kindName: String
    public var activation: ActivationKind
    public var summary: String
    public var jsonFields: [(key: String, value: JSONValue)]

    /// A definition for an activation named `name`; `describe` lists its (short label, JSON key, value) for
    /// the shapes table and JSON; `kind` picks the kernel's function.
    static func definition(name: String, synonyms: [String] = [], summary: String, keys: [LayerKey] = [], shortFormKey: String? = nil,
                           describe: @escaping @Sendable (LayerArguments) -> [(label: String, key: String, value: JSONValue)] = { _ in [] },
                           kind: @escaping @Sendable (LayerArguments) -> ActivationKind) -> LayerDefinition {
        LayerDefinition(name: name, synonyms: synonyms, summary: summary, keys: keys, shortFormKey: shortFormKey,
                        infer: { arguments, context in
                            let described = describe(arguments)
                            let operation = ActivationOperation(
                                kindName: name, activation: kind(arguments),
                                summary: described.map { "\($0.label) \($0.value.plainText)" }.joined(separator: " "),
                                jsonFields: described.map { ($0.key, $0.value) })
                            return InferredLayer(operation, shape: context.input.shape)
                        })
    }

    public func makeLayer(_ context: LayerBuildContext) throws -> any ExecutableLayer {
        ActivationLayer(wiring: context.wiring, kind: activation, pool: context.pool)
    }
}

/// Runs an activation kernel forward and backward.
final class ActivationLayer: ExecutableLayer {
    private let wiring: LayerWiring
    private let kind: ActivationKind
    private let pool: ThreadPool

    init(wiring: LayerWiring, kind: ActivationKind, pool: ThreadPool) {
        self.wiring = wiring; self.kind = kind; self.pool = pool
    }

    func forward(batch: Int, training: Bool) {
        Activation.forward(kind, count: batch * wiring.outputShape.elementCount, input: wiring.input,
                           output: wiring.output, pool: pool)
    }

    func backward(batch: Int) {
        guard let gradInput = wiring.inputGradient else { return }
        Activation.backward(kind, count: batch * wiring.outputShape.elementCount, input: wiring.input,
                            output: wiring.output, gradOutput: wiring.outputGradient, gradInput: gradInput, pool: pool)
    }
}
