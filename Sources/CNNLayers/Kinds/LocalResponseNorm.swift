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
