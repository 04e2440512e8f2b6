import CNNKernels
import CNNSpec

/// `local_response_norm`: PyTorch's `nn.LocalResponseNorm` (AlexNet 2012): each value divided by
/// (k + alpha/size · Σ of squares over `size` neighbouring channels)^beta.
extension LayerDefinition {
    public static let localResponseNorm = LayerDefinition(
        name: "local_response_norm", synonyms: ["lrn", "localresponsenorm"],
        summary: "normalisation across neighbouring channels (torch.nn.LocalResponseNorm)",
        keys: [
            LayerKey("size", .integer(minimum: 1), required: true, summary: "channels in the window"),
            LayerKey("alpha", .number(0...1_000, what: "a number between 0 and 1000"), default: .number(1e-4), summary: "scale"),
            LayerKey("beta", .number(0...1_000, what: "a number between 0 and 1000"), default: .number(0.75), summary: "exponent"),
            LayerKey("k", .number(0...1_000, what: "a number between 0 and 1000"), default: .number(1), summary: "additive constant"),
        ],
        shortFormKey: "size", autoNameStem: "lrn", example: "- local_response_norm: {size: 5, alpha: 0.0001, beta: 0.75, k: 2}",
        jsonFields: ["size", "alpha", "beta", "k"],
        infer: { arguments, context in
            guard context.featureMap() != nil, let size = arguments.integer("size"), let alpha = arguments.number("alpha"),
                  let beta = arguments.number("beta"), let k = arguments.number("k") else { return nil }
            let parameters = LocalResponseNormParameters(size: size, alpha: alpha, beta: beta, k: k)
            return InferredLayer(LocalResponseNormOperation(parameters: parameters), shape: context.input.shape)
        })
}

public struct LocalResponseNormOperation: ExecutableOperation, Equatable {
    public var parameters: LocalResponseNormParameters

    public var kindName: String { "local_response_norm" }
    public var summary: String { "size \(parameters.size) α \(parameters.alpha) β \(parameters.beta) k \(parameters.k)" }
    public var jsonFields: [(key: String, value: JSONValue)] {
        [("size", .integer(parameters.size)), ("alpha", .number(parameters.alpha)), ("beta", .number(parameters.beta)),
         ("k", .number(parameters.k))]
    }

    /// The layer works on the plan's buffers and its parameters only.
    public func memory(_ sizing: LayerSizing) -> MemoryFootprint { .zero }

    public var outputReLUFusion: OutputReLUFusion { .none }

    public func makeLayer(_ context: LayerBuildContext) throws -> any ExecutableLayer {
        LocalResponseNormLayer(wiring: context.wiring, parameters: parameters, pool: context.pool)
    }
}

final class LocalResponseNormLayer: ExecutableLayer {
    private let wiring: LayerWiring
    private let parameters: LocalResponseNormParameters
    private let pool: ThreadPool

    init(wiring: LayerWiring, parameters: LocalResponseNormParameters, pool: ThreadPool) {
        self.wiring = wiring; self.parameters = parameters; self.pool = pool
    }

    func forward(batch: Int, training: Bool) {
        let (channels, height, width) = wiring.outputShape.chw
        LocalResponseNorm.forward(parameters, batch: batch, channels: channels, spatial: height * width, input: wiring.input,
                                  output: wiring.output, pool: pool)
    }

    func backward(batch: Int) {
        guard let gradInput = wiring.inputGradient else { return }
        let (channels, height, width) = wiring.outputShape.chw
        LocalResponseNorm.backward(parameters, batch: batch, channels: channels, spatial: height * width, input: wiring.input,
                                   gradOutput: wiring.outputGradient, gradInput: gradInput, pool: pool)
    }
}

// MARK: - Export

extension LocalResponseNormOperation {
    /// ONNX `LRN` for an odd size. For an even size ONNX's window (⌊(size−1)/2⌋ channels before, ⌈…⌉
    /// after) is PyTorch's mirrored (size/2 before), so the sum is built as PyTorch computes it: x²,
    /// a 3-D `AveragePool` of size×1×1 over the channel axis padded size/2 before and (size−1)/2 after,
    /// then x / (k + alpha·mean)^beta.
    public func exportONNX(_ node: ExportNode, to builder: any ONNXGraphBuilder) throws {
        let p = parameters
        if p.size % 2 == 1 {
            builder.addNode("LRN", inputs: [node.input], outputs: [node.output], attributes: [
                "size": .int(p.size), "alpha": .float(p.alpha), "beta": .float(p.beta), "bias": .float(p.k)])
            return
        }
        let stem = node.name
        let square = builder.apply("Mul", [node.input, node.input], stem: stem + "_square")
        let axis = builder.int64Constant([1], stem: stem + "_axis")
        let volume = builder.apply("Unsqueeze", [square, axis], stem: stem + "_volume")
        let mean = builder.apply("AveragePool", [volume], [
            "kernel_shape": .ints([p.size, 1, 1]), "strides": .ints([1, 1, 1]),
            "pads": .ints([p.size / 2, 0, 0, (p.size - 1) / 2, 0, 0]), "count_include_pad": .int(1)], stem: stem + "_window")
        let sum = builder.apply("Squeeze", [mean, axis], stem: stem + "_mean")
        let scaled = builder.apply("Mul", [sum, builder.scalar(p.alpha, stem: stem + "_alpha")], stem: stem + "_scaled")
        let shifted = builder.apply("Add", [scaled, builder.scalar(p.k, stem: stem + "_k")], stem: stem + "_shifted")
        let divisor = builder.apply("Pow", [shifted, builder.scalar(p.beta, stem: stem + "_beta")], stem: stem + "_divisor")
        builder.apply("Div", [node.input, divisor], stem: stem, into: node.output)
    }

    /// `nn.LocalResponseNorm(size, alpha=…, beta=…, k=…)`.
    public func exportPyTorch(_ node: ExportNode) throws -> PyTorchLayer {
        let p = parameters
        return .call("nn.LocalResponseNorm(\(p.size), alpha=\(PythonLiteral.number(p.alpha)), "
            + "beta=\(PythonLiteral.number(p.beta)), k=\(PythonLiteral.number(p.k)))", node)
    }
}
