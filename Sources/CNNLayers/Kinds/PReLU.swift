import CNNKernels
import CNNSpec

/// `prelu`: PyTorch's `nn.PReLU` — x for x > 0, a·x below, with a learnable slope per channel
/// (`num_parameters: channels`) or one shared slope (PyTorch's default).
extension LayerDefinition {
    public static let prelu = LayerDefinition(
        name: "prelu", summary: "leaky ReLU with learned slopes (torch.nn.PReLU); weight [num_parameters]",
        keys: [
            LayerKey("num_parameters", .integerOrChoice(minimum: 1, choices: ["channels"]), default: .integer(1),
                     summary: "1 (one shared slope) or the channel count (one per channel, also written 'channels')"),
            LayerKey("init", .number(-1_000...1_000, what: "a number between -1000 and 1000"), default: .number(0.25),
                     summary: "initial slope"),
        ],
        shortFormKey: "num_parameters", example: "- prelu: {num_parameters: channels}", jsonFields: ["num_parameters"],
        infer: { arguments, context in
            let channels = context.input.shape.chw.channels
            guard let count = arguments.word("num_parameters") == "channels" ? channels : arguments.integer("num_parameters"),
                  let initialSlope = arguments.number("init") else { return nil }  // invariant: both keys have defaults
            guard count == 1 || count == channels else {
                context.error("num_parameters must be 1 or the input's \(channels) channels, got \(count)", key: "num_parameters",
                              hint: "write num_parameters: channels for one slope per channel")
                return nil
            }
            let operation = PReLUOperation(channels: channels, slopeCount: count, initialSlope: initialSlope)
            return InferredLayer(operation, shape: context.input.shape, macs: 0)
        })
}

public struct PReLUOperation: ExecutableOperation, Equatable {
    public var channels: Int
    public var slopeCount: Int
    public var initialSlope: Float

    public var kindName: String { "prelu" }
    public var summary: String { slopeCount == 1 ? "shared slope" : "slope per channel" }
    public var parameters: [ParameterDeclaration] {
        [ParameterDeclaration("weight", shape: [slopeCount], initialization: .constant(initialSlope))]
    }
    public var jsonFields: [(key: String, value: JSONValue)] { [("num_parameters", .integer(slopeCount))] }

    /// The layer works on the plan's buffers and its parameters only.
    public func memory(_ sizing: LayerSizing) -> MemoryFootprint { .zero }

    public var outputReLUFusion: OutputReLUFusion { .none }

    public func makeLayer(_ context: LayerBuildContext) throws -> any ExecutableLayer {
        PReLULayer(wiring: context.wiring, slopeCount: slopeCount, slopes: try context.tensor("weight"),
                   gradSlopes: try context.gradient("weight"), pool: context.pool)
    }
}

final class PReLULayer: ExecutableLayer {
    private let wiring: LayerWiring
    private let slopeCount: Int
    private let slopes, gradSlopes: UnsafeMutablePointer<Float>
    private let pool: ThreadPool

    init(wiring: LayerWiring, slopeCount: Int, slopes: UnsafeMutablePointer<Float>, gradSlopes: UnsafeMutablePointer<Float>,
         pool: ThreadPool) {
        self.wiring = wiring; self.slopeCount = slopeCount; self.slopes = slopes; self.gradSlopes = gradSlopes; self.pool = pool
    }

    func forward(batch: Int, training: Bool) {
        let (channels, height, width) = wiring.outputShape.chw
        PReLU.forward(batch: batch, channels: channels, spatial: height * width, slopeCount: slopeCount, input: wiring.input,
                      slopes: slopes, output: wiring.output, pool: pool)
    }

    func backward(batch: Int) {
        let (channels, height, width) = wiring.outputShape.chw
        // The kernel allows gradInput to alias gradOutput, so without an input gradient it writes in place.
        PReLU.backward(batch: batch, channels: channels, spatial: height * width, slopeCount: slopeCount, input: wiring.input,
                       slopes: slopes, gradOutput: wiring.outputGradient, gradInput: wiring.inputGradient ?? wiring.outputGradient,
                       gradSlopes: gradSlopes, pool: pool)
    }
}

// MARK: - Export

extension PReLUOperation {
    /// `PRelu`; a per-channel slope [C] is reshaped to [C, 1, 1] so it broadcasts over a feature map's channels.
    public func exportONNX(_ node: ExportNode, to builder: any ONNXGraphBuilder) throws {
        var slope = try builder.parameter("weight", of: node.name)
        if slopeCount > 1 && node.inputShape.isImage {
            slope = builder.apply("Reshape", [slope, builder.int64Constant([slopeCount, 1, 1], stem: node.name + "_slope_shape")],
                                  stem: node.name + "_slope")
        }
        builder.addNode("PRelu", inputs: [node.input, slope], outputs: [node.output], attributes: [:])
    }

    /// `nn.PReLU(num_parameters=…, init=…)`.
    public func exportPyTorch(_ node: ExportNode) throws -> PyTorchLayer {
        .call("nn.PReLU(num_parameters=\(slopeCount), init=\(PythonLiteral.number(initialSlope)))", node)
    }
}
