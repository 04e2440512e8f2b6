import CNNKernels
import CNNSpec

/// Point-wise activations: each is a name, its keys and the kernel's `ActivationKind` they select.
extension LayerDefinition {
    public static let relu = ActivationOperation.definition(name: "relu", summary: "max(0, x) (torch.nn.ReLU)") { _ in .relu }

    public static let leakyRelu = ActivationOperation.definition(
        name: "leaky_relu", synonyms: ["leakyrelu"], summary: "x for x ≥ 0, slope·x below (torch.nn.LeakyReLU)",
        keys: [LayerKey("negative_slope", .number(-1_000...1_000, what: "a number between -1000 and 1000"), aliases: ["slope"],
                        default: .number(0.01), summary: "slope for negative inputs")],
        shortFormKey: "negative_slope", jsonFields: ["negative_slope"], described: { _ in [("slope", "negative_slope")] },
        kind: { arguments in arguments.number("negative_slope").map { .leakyRelu(negativeSlope: $0) } })

    public static let sigmoid = ActivationOperation.definition(name: "sigmoid", summary: "1/(1 + e^−x) (torch.nn.Sigmoid)") { _ in .sigmoid }

    public static let tanh = ActivationOperation.definition(name: "tanh", summary: "hyperbolic tangent (torch.nn.Tanh)") { _ in .tanh }

    public static let gelu = ActivationOperation.definition(
        name: "gelu", summary: "x·Φ(x) (torch.nn.GELU); approximate: tanh for the tanh form",
        keys: [LayerKey("approximate", .choice(["none", "tanh"]), default: .word("none"), summary: "PyTorch's approximate")],
        shortFormKey: "approximate", jsonFields: [JSONField("approximate", note: "only with `approximate: tanh`")], described: { arguments in arguments.word("approximate") == "tanh" ? [("approximate", "approximate")] : [] },
        kind: { arguments in arguments.word("approximate").map { $0 == "tanh" ? .geluTanh : .gelu } })

    public static let silu = ActivationOperation.definition(name: "silu", synonyms: ["swish"], summary: "x·σ(x) (torch.nn.SiLU)") { _ in .silu }

    public static let elu = ActivationOperation.definition(
        name: "elu", summary: "x for x > 0, alpha·(eˣ − 1) below (torch.nn.ELU)",
        keys: [LayerKey("alpha", .number(0...1_000, what: "a number between 0 and 1000"), default: .number(1), summary: "scale of the negative part")],
        shortFormKey: "alpha", jsonFields: ["alpha"], described: { _ in [("alpha", "alpha")] },
        kind: { arguments in arguments.number("alpha").map { .elu(alpha: $0) } })

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
        jsonFields: ["beta", "threshold"], described: { _ in [("beta", "beta"), ("threshold", "threshold")] },
        kind: { arguments in
            guard let beta = arguments.number("beta"), let threshold = arguments.number("threshold") else { return nil }
            return .softplus(beta: beta, threshold: threshold)
        })
}

/// An element-wise non-linearity; the output has the input's shape.
public struct ActivationOperation: ExecutableOperation {
    public var kindName: String
    public var activation: ActivationKind
    public var summary: String
    public var jsonFields: [(key: String, value: JSONValue)]

    /// A definition for an activation named `name`; `described` picks the keys (short label, key) the shapes
    /// table and JSON show; `kind` picks the kernel's function from the keys' values. Both read the arguments,
    /// which hold the written value or the key's declared default: a default is written only in its `LayerKey`.
    static func definition(name: String, synonyms: [String] = [], summary: String, keys: [LayerKey] = [], shortFormKey: String? = nil,
                           jsonFields: [JSONField] = [],
                           described: @escaping @Sendable (LayerArguments) -> [(label: String, key: String)] = { _ in [] },
                           kind: @escaping @Sendable (LayerArguments) -> ActivationKind?) -> LayerDefinition {
        LayerDefinition(name: name, synonyms: synonyms, summary: summary, keys: keys, shortFormKey: shortFormKey,
                        jsonFields: jsonFields,
                        infer: { arguments, context in
                            guard let activation = kind(arguments) else { return nil }  // invariant: every key has a default
                            let fields = described(arguments).compactMap { label, key in
                                arguments.value(key).map { (label: label, key: key, value: JSONValue($0)) }
                            }
                            let operation = ActivationOperation(
                                kindName: name, activation: activation,
                                summary: fields.map { "\($0.label) \($0.value.plainText)" }.joined(separator: " "),
                                jsonFields: fields.map { ($0.key, $0.value) })
                            return InferredLayer(operation, shape: context.input.shape)
                        })
    }

    /// Every activation kernel maps element by element (`Activation.forward`), so output may be input.
    public var runsInPlaceInInference: Bool { true }

    /// The kernels keep nothing between passes.
    public func memory(_ sizing: LayerSizing) -> MemoryFootprint { .zero }

    /// Backward of some activations reads their output (sigmoid, tanh).
    public var outputReLUFusion: OutputReLUFusion { .none }

    public func makeLayer(_ context: LayerBuildContext) throws -> any ExecutableLayer {
        ActivationLayer(wiring: context.wiring, kind: activation, pool: context.pool)
    }
}

/// A layer that can apply the ReLU reading its output itself (`PlanFusion.reluIntoProducer`): forward
/// writes max(y, 0) in its own pass over the output, and backward masks the output gradient by that
/// output — the ReLU's two passes over memory saved.
public protocol OutputReLUFusing: ExecutableLayer {
    /// From now on the layer's output is max(y, 0) and its output gradient is the ReLU's output gradient.
    func fuseOutputReLU()
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

// MARK: - Export

extension ActivationOperation {
    /// The opset that has `Gelu`; before it GELU is built from `Erf` (exact form) or `Tanh`.
    static let geluOpset = 20
    /// The opset that has `Mish`; before it, x·tanh(softplus(x)).
    static let mishOpset = 18

    /// One ONNX op where the opset has it, else the formula PyTorch documents, node by node.
    public func exportONNX(_ node: ExportNode, to builder: any ONNXGraphBuilder) throws {
        let x = node.input, out = node.output, stem = node.name
        func unary(_ op: String, _ attributes: [String: ONNXAttributeValue] = [:]) {
            builder.addNode(op, inputs: [x], outputs: [out], attributes: attributes)
        }
        switch activation {
        case .relu: unary("Relu")
        case .leakyRelu(let slope): unary("LeakyRelu", ["alpha": .float(slope)])
        case .sigmoid: unary("Sigmoid")
        case .tanh: unary("Tanh")
        case .elu(let alpha): unary("Elu", ["alpha": .float(alpha)])
        case .hardswish: unary("HardSwish")
        case .hardsigmoid: unary("HardSigmoid", ["alpha": .float(1.0 / 6.0), "beta": .float(0.5)])
        case .relu6:
            builder.addNode("Clip", inputs: [x, builder.scalar(0, stem: stem + "_min"), builder.scalar(6, stem: stem + "_max")],
                            outputs: [out], attributes: [:])
        case .silu:
            builder.apply("Mul", [x, builder.apply("Sigmoid", [x], stem: stem + "_sigmoid")], stem: stem, into: out)
        case .gelu, .geluTanh:
            let isTanh = activation == .geluTanh
            if builder.opset >= Self.geluOpset {
                unary("Gelu", ["approximate": .string(isTanh ? "tanh" : "none")])
                return
            }
            // 0.5·x·(1 + erf(x/√2)), or 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
            let inner: String
            if isTanh {
                let cube = builder.apply("Mul", [x, builder.apply("Mul", [x, x], stem: stem + "_square")], stem: stem + "_cube")
                let cubic = builder.apply("Mul", [cube, builder.scalar(0.044715, stem: stem + "_c")], stem: stem + "_cubic")
                let sum = builder.apply("Add", [x, cubic], stem: stem + "_sum")
                let scaled = builder.apply("Mul", [sum, builder.scalar(Float((2.0 / Double.pi).squareRoot()), stem: stem + "_k")],
                                           stem: stem + "_scaled")
                inner = builder.apply("Tanh", [scaled], stem: stem + "_tanh")
            } else {
                let scaled = builder.apply("Div", [x, builder.scalar(Float(2.0.squareRoot()), stem: stem + "_sqrt2")], stem: stem + "_scaled")
                inner = builder.apply("Erf", [scaled], stem: stem + "_erf")
            }
            let onePlus = builder.apply("Add", [inner, builder.scalar(1, stem: stem + "_one")], stem: stem + "_one_plus")
            let product = builder.apply("Mul", [x, onePlus], stem: stem + "_product")
            builder.apply("Mul", [product, builder.scalar(0.5, stem: stem + "_half")], stem: stem, into: out)
        case .mish:
            if builder.opset >= Self.mishOpset {
                unary("Mish")
            } else {
                let softplus = builder.apply("Softplus", [x], stem: stem + "_softplus")
                builder.apply("Mul", [x, builder.apply("Tanh", [softplus], stem: stem + "_tanh")], stem: stem, into: out)
            }
        case .softplus(let beta, let threshold):
            // PyTorch: x where beta·x > threshold, else log(1 + e^(beta·x))/beta.
            let scaled = beta == 1 ? x : builder.apply("Mul", [x, builder.scalar(beta, stem: stem + "_beta")], stem: stem + "_scaled")
            var soft = builder.apply("Softplus", [scaled], stem: stem + "_softplus")
            if beta != 1 { soft = builder.apply("Div", [soft, builder.scalar(beta, stem: stem + "_beta_div")], stem: stem + "_divided") }
            let above = builder.apply("Greater", [scaled, builder.scalar(threshold, stem: stem + "_threshold")], stem: stem + "_above")
            builder.apply("Where", [above, x, soft], stem: stem, into: out)
        }
    }

    /// The `torch.nn` activation module with its arguments.
    public func exportPyTorch(_ node: ExportNode) throws -> PyTorchLayer {
        let module: String
        switch activation {
        case .relu: module = "nn.ReLU()"
        case .leakyRelu(let slope): module = "nn.LeakyReLU(negative_slope=\(PythonLiteral.number(slope)))"
        case .sigmoid: module = "nn.Sigmoid()"
        case .tanh: module = "nn.Tanh()"
        case .gelu: module = "nn.GELU()"
        case .geluTanh: module = "nn.GELU(approximate='tanh')"
        case .silu: module = "nn.SiLU()"
        case .elu(let alpha): module = "nn.ELU(alpha=\(PythonLiteral.number(alpha)))"
        case .relu6: module = "nn.ReLU6()"
        case .hardswish: module = "nn.Hardswish()"
        case .hardsigmoid: module = "nn.Hardsigmoid()"
        case .mish: module = "nn.Mish()"
        case .softplus(let beta, let threshold):
            module = "nn.Softplus(beta=\(PythonLiteral.number(beta)), threshold=\(PythonLiteral.number(threshold)))"
        }
        return .call(module, node)
    }
}
