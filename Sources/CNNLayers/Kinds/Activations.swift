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
        describe: { arguments in [("slope", "negative_slope", arguments.number("negative_slope") ?? 0.01)] },
        kind: { arguments in .leakyRelu(negativeSlope: arguments.number("negative_slope") ?? 0.01) })

    public static let sigmoid = ActivationOperation.definition(name: "sigmoid", summary: "1/(1 + e^−x) (torch.nn.Sigmoid)") { _ in .sigmoid }

    public static let tanh = ActivationOperation.definition(name: "tanh", summary: "hyperbolic tangent (torch.nn.Tanh)") { _ in .tanh }
}

/// An element-wise non-linearity; the output has the input's shape.
public struct ActivationOperation: ExecutableOperation {
    public var kindName: String
    public var activation: ActivationKind
    public var summary: String
    public var jsonFields: [(key: String, value: JSONValue)]

    /// A definition for an activation named `name`; `describe` lists its (short label, key, value) for
    /// the shapes table and JSON; `kind` picks the kernel's function.
    static func definition(name: String, synonyms: [String] = [], summary: String, keys: [LayerKey] = [], shortFormKey: String? = nil,
                           describe: @escaping @Sendable (LayerArguments) -> [(label: String, key: String, value: Float)] = { _ in [] },
                           kind: @escaping @Sendable (LayerArguments) -> ActivationKind) -> LayerDefinition {
        LayerDefinition(name: name, synonyms: synonyms, summary: summary, keys: keys, shortFormKey: shortFormKey,
                        infer: { arguments, context in
                            let described = describe(arguments)
                            let operation = ActivationOperation(
                                kindName: name, activation: kind(arguments),
                                summary: described.map { "\($0.label) \($0.value)" }.joined(separator: " "),
                                jsonFields: described.map { ($0.key, JSONValue.number($0.value)) })
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
