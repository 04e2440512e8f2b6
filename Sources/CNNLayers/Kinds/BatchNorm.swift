import CNNKernels
import CNNSpec

/// `batchnorm2d` and `batchnorm1d`: PyTorch's `nn.BatchNorm2d` (per channel of a feature map) and
/// `nn.BatchNorm1d` (per feature of a vector) — batch statistics while training (updating the running
/// ones), running statistics in evaluation. A vector of F features is F channels of 1×1, so both run
/// on the same kernel.
extension LayerDefinition {
    public static let batchnorm2d = LayerDefinition(
        name: "batchnorm2d", synonyms: ["batchnorm", "bn", "batch_norm"],
        summary: "batch normalisation over channels (torch.nn.BatchNorm2d)",
        keys: BatchNormOperation.keys, shortFormKey: "channels", autoNameStem: "bn", example: "- batchnorm2d: {eps: 1e-5, momentum: 0.1}",
        jsonFields: BatchNormOperation.jsonFieldNames,
        infer: { arguments, context in
            guard let (c, _, _) = context.featureMap() else { return nil }
            return BatchNormOperation.infer(arguments, context, channels: c)
        })

    public static let batchnorm1d = LayerDefinition(
        name: "batchnorm1d", synonyms: ["bn1d", "batch_norm1d"],
        summary: "batch normalisation over the features of a vector, e.g. after linear (torch.nn.BatchNorm1d)",
        keys: BatchNormOperation.keys, shortFormKey: "channels", autoNameStem: "bn", example: "- batchnorm1d",
        jsonFields: BatchNormOperation.jsonFieldNames,
        infer: { arguments, context in
            guard case .vector(let features) = context.input.shape else {
                context.error("batchnorm1d normalises a vector of features, but \(context.input.name) gives a feature map \(context.input.shape)",
                              hint: "use batchnorm2d on feature maps, or put batchnorm1d after flatten or linear")
                return nil
            }
            return BatchNormOperation.infer(arguments, context, channels: features)
        })
}

public struct BatchNormOperation: ExecutableOperation, Equatable {
    public var kindName: String
    public var channels: Int
    public var eps: Float
    public var momentum: Float

    public var summary: String { "eps \(eps) m \(momentum)" }
    public var needsInputGradientBuffer: Bool { true }
    /// Evaluation is a per-channel affine map, element by element (`BatchNorm2D.forwardInference`).
    public var runsInPlaceInInference: Bool { true }

    public var parameters: [ParameterDeclaration] {
        [ParameterDeclaration("weight", shape: [channels], initialization: .constant(1)),
         ParameterDeclaration("bias", shape: [channels], initialization: .constant(0)),
         ParameterDeclaration("running_mean", shape: [channels], trainable: false, initialization: .constant(0)),
         ParameterDeclaration("running_var", shape: [channels], trainable: false, initialization: .constant(1)),
         ParameterDeclaration("num_batches_tracked", shape: [], trainable: false, initialization: .constant(0), isInteger: true)]
    }

    public var jsonFields: [(key: String, value: JSONValue)] {
        [("channels", .integer(channels)), ("eps", .number(eps)), ("momentum", .number(momentum))]
    }

    static let jsonFieldNames: [JSONField] = ["channels", "eps", "momentum"]

    static let keys = [
        LayerKey("channels", .integer(minimum: 1), aliases: ["num_features"], derivedDefault: "inferred",
                 summary: "channels (features); checked against the input when written"),
        LayerKey("eps", .number(1e-30...1, what: "a small positive number"), default: .number(1e-5), summary: "added to the variance"),
        LayerKey("momentum", .number(0...1, what: "between 0 and 1"), default: .number(0.1), summary: "running-statistics update rate"),
    ]

    static func infer(_ arguments: LayerArguments, _ context: ShapeContext, channels: Int) -> InferredLayer? {
        guard context.checkWritten("channels", equals: channels, what: "channel"),
              let eps = arguments.number("eps"), let momentum = arguments.number("momentum") else { return nil }
        let operation = BatchNormOperation(kindName: arguments.definition.name, channels: channels, eps: eps, momentum: momentum)
        return InferredLayer(operation, shape: context.input.shape)
    }

    /// Normalising writes max(y, 0) and backward masks dy by that output (`BatchNormLayer.fuseOutputReLU`).
    public var outputReLUFusion: OutputReLUFusion { .applied }

    /// The batch's mean and inverse deviation per channel, kept for backward.
    public func memory(_ sizing: LayerSizing) -> MemoryFootprint {
        MemoryFootprint(workspaceBytes: 2 * AlignedBuffer<Float>.byteCount(sizing.outputShape.chw.channels))
    }

    public func makeLayer(_ context: LayerBuildContext) throws -> any ExecutableLayer {
        try BatchNormLayer(wiring: context.wiring, eps: eps, momentum: momentum, context: context)
    }
}

/// Batch normalisation over the channels of a feature map (a vector is C×1×1).
final class BatchNormLayer: OutputReLUFusing {
    private let wiring: LayerWiring
    /// A ReLU fused in: normalise writes max(y, 0), backward masks dy by that output.
    private var appliesReLU = false
    private let eps: Float
    private let momentum: Float
    private let weight, bias, gradWeight, gradBias: UnsafeMutablePointer<Float>
    private let runningMean, runningVar, batchesTracked: UnsafeMutablePointer<Float>
    private let saveMean: AlignedBuffer<Float>
    private let saveInvStd: AlignedBuffer<Float>
    private let pool: ThreadPool

    init(wiring: LayerWiring, eps: Float, momentum: Float, context: LayerBuildContext) throws {
        self.wiring = wiring; self.eps = eps; self.momentum = momentum; pool = context.pool
        weight = try context.tensor("weight"); bias = try context.tensor("bias")
        gradWeight = try context.gradient("weight"); gradBias = try context.gradient("bias")
        runningMean = try context.tensor("running_mean"); runningVar = try context.tensor("running_var")
        batchesTracked = try context.tensor("num_batches_tracked")
        let channels = wiring.outputShape.chw.channels
        saveMean = AlignedBuffer(count: channels)
        saveInvStd = AlignedBuffer(count: channels)
    }

    func forward(batch: Int, training: Bool) {
        let (channels, height, width) = wiring.outputShape.chw
        if training {
            BatchNorm2D.forwardTraining(batch: batch, channels: channels, spatial: height * width, eps: eps,
                                        momentum: momentum, input: wiring.input, weight: weight, bias: bias,
                                        runningMean: runningMean, runningVar: runningVar, saveMean: saveMean.pointer,
                                        saveInvStd: saveInvStd.pointer, output: wiring.output, relu: appliesReLU, pool: pool)
            batchesTracked.pointee += 1
        } else {
            BatchNorm2D.forwardInference(batch: batch, channels: channels, spatial: height * width, eps: eps,
                                         input: wiring.input, weight: weight, bias: bias, runningMean: runningMean,
                                         runningVar: runningVar, output: wiring.output, relu: appliesReLU, pool: pool)
        }
    }

    func backward(batch: Int) {
        let (channels, height, width) = wiring.outputShape.chw
        let scratch = wiring.inputGradient ?? wiring.outputGradient
        BatchNorm2D.backward(batch: batch, channels: channels, spatial: height * width, input: wiring.input,
                             gradOutput: wiring.outputGradient, weight: weight, saveMean: saveMean.pointer,
                             saveInvStd: saveInvStd.pointer, gradInput: scratch, gradWeight: gradWeight,
                             gradBias: gradBias, reluOutput: appliesReLU ? UnsafePointer(wiring.output) : nil, pool: pool)
    }

    func fuseOutputReLU() { appliesReLU = true }
}

/// Batch norm in evaluation folded into the convolution before it, as PyTorch's
/// `fuse_conv_bn_eval` does: with s = γ/√(σ² + ε) per output channel, y = s·(conv(x) + b − μ) + β is
/// the convolution with weight w·s and bias (b − μ)·s + β. The folded tensors are copies: training
/// weights are never touched, and `refresh()` recomputes them whenever the parameters change.
public final class BatchNormFolding {
    /// The convolution's name; it reads the folded tensors through `tensorOverrides`.
    public let convolution: String
    private let weight, gamma, beta, mean, variance: UnsafeMutablePointer<Float>
    private let bias: UnsafeMutablePointer<Float>?
    private let eps: Float
    private let channels: Int
    private let weightsPerChannel: Int
    private let foldedWeight: AlignedBuffer<Float>
    private let foldedBias: AlignedBuffer<Float>

    /// Folds batch norm `batchNorm` (epsilon `eps`) into convolution `convolution`, both named as in `parameters`.
    public init(convolution: String, batchNorm: String, eps: Float, parameters: ParameterStore) throws {
        func tensor(_ name: String) throws -> UnsafeMutablePointer<Float> {
            guard let pointer = parameters.pointer(name) else { throw PlanError.missingParameter(name) }
            return pointer
        }
        self.convolution = convolution
        weight = try tensor(convolution + ".weight")
        bias = parameters.pointer(convolution + ".bias")
        gamma = try tensor(batchNorm + ".weight"); beta = try tensor(batchNorm + ".bias")
        mean = try tensor(batchNorm + ".running_mean"); variance = try tensor(batchNorm + ".running_var")
        self.eps = eps
        channels = parameters.entry(batchNorm + ".running_mean")?.count ?? 0
        let weightCount = parameters.entry(convolution + ".weight")?.count ?? 0
        guard channels > 0, weightCount % channels == 0 else {
            throw PlanError.unsupported(layer: batchNorm, reason: "cannot fold into \(convolution): channel counts differ")
        }
        weightsPerChannel = weightCount / channels
        foldedWeight = AlignedBuffer(count: weightCount)
        foldedBias = AlignedBuffer(count: channels)
    }

    /// The folded weight and bias, by the suffix the convolution asks for.
    public var tensorOverrides: [String: UnsafeMutablePointer<Float>] { ["weight": foldedWeight.pointer, "bias": foldedBias.pointer] }

    /// Recomputes the folded tensors from the current parameters (the scale as `BatchNorm2D.forwardInference` computes it).
    public func refresh() {
        for channel in 0..<channels {
            let scale = gamma[channel] / (variance[channel] + eps).squareRoot()
            let source = weight + channel * weightsPerChannel, target = foldedWeight.pointer + channel * weightsPerChannel
            for index in 0..<weightsPerChannel { target[index] = source[index] * scale }
            foldedBias.pointer[channel] = ((bias?[channel] ?? 0) - mean[channel]) * scale + beta[channel]
        }
    }
}

// MARK: - Export

extension BatchNormOperation {
    /// Inference form: `BatchNormalization` with the running statistics (ONNX's momentum is 1 − PyTorch's).
    public func exportONNX(_ node: ExportNode, to builder: any ONNXGraphBuilder) throws {
        let inputs = try [node.input] + ["weight", "bias", "running_mean", "running_var"].map { try builder.parameter($0, of: node.name) }
        builder.addNode("BatchNormalization", inputs: inputs, outputs: [node.output],
                        attributes: ["epsilon": .float(eps), "momentum": .float(1 - momentum)])
    }

    /// `nn.BatchNorm2d`/`nn.BatchNorm1d` (its buffers include `num_batches_tracked`, as cnnspec's checkpoints do).
    public func exportPyTorch(_ node: ExportNode) throws -> PyTorchLayer {
        let className = kindName == "batchnorm1d" ? "BatchNorm1d" : "BatchNorm2d"
        return .call("nn.\(className)(\(channels), eps=\(PythonLiteral.number(eps)), momentum=\(PythonLiteral.number(momentum)))", node)
    }
}
