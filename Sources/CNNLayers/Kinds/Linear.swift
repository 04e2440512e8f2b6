import CNNKernels
import CNNSpec

/// `linear`: PyTorch's `nn.Linear` (weight [out, in]); a feature map is flattened first.
extension LayerDefinition {
    public static let linear = LayerDefinition(
        name: "linear", synonyms: ["fc", "dense"], summary: "fully connected layer (torch.nn.Linear); weight [out, in]",
        keys: [
            LayerKey("out", .integer(minimum: 1), aliases: ["out_features"], required: true, summary: "output features"),
            LayerKey("in", .integer(minimum: 1), aliases: ["in_features"], derivedDefault: "inferred",
                     summary: "input features; checked against the input when written"),
            LayerKey("bias", .bool, default: .bool(true), summary: "learn a bias per output feature"),
        ],
        shortFormKey: "out", autoNameStem: "fc", flattensFeatureMaps: true,
        example: "- linear: 10   or   - linear: {out: 10, in: 1568}", jsonFields: ["in_features", "out_features", "bias"],
        infer: { arguments, context in
            let features = context.input.shape.elementCount
            guard context.checkWritten("in", equals: features, what: "feature"),
                  let out = arguments.integer("out"), let bias = arguments.bool("bias"),
                  let weights = context.product(features, out, limit: ShapeContext.maximumElements) else { return nil }
            return InferredLayer(LinearOperation(inFeatures: features, outFeatures: out, bias: bias), shape: .vector(features: out),
                                 macs: weights)
        })
}

public struct LinearOperation: ExecutableOperation, Equatable {
    public var inFeatures: Int
    public var outFeatures: Int
    public var bias: Bool

    public var kindName: String { "linear" }
    public var summary: String { bias ? "" : "no-bias" }

    public var parameters: [ParameterDeclaration] {
        var declared = [ParameterDeclaration("weight", shape: [outFeatures, inFeatures], initialization: .uniform(fanIn: inFeatures))]
        if bias { declared.append(ParameterDeclaration("bias", shape: [outFeatures], initialization: .uniform(fanIn: inFeatures))) }
        return declared
    }

    public var jsonFields: [(key: String, value: JSONValue)] {
        [("in_features", .integer(inFeatures)), ("out_features", .integer(outFeatures)), ("bias", .bool(bias))]
    }

    /// The layer works on the plan's buffers and its parameters only.
    public func memory(_ sizing: LayerSizing) -> MemoryFootprint { .zero }

    /// Backward reads the input and the output gradient only.
    public var outputReLUFusion: OutputReLUFusion { .inPlace }

    public func makeLayer(_ context: LayerBuildContext) throws -> any ExecutableLayer {
        LinearLayer(wiring: context.wiring, inFeatures: inFeatures, outFeatures: outFeatures, weight: try context.tensor("weight"),
                    bias: context.optionalTensor("bias"), gradWeight: try context.gradient("weight"),
                    gradBias: context.optionalGradient("bias"), gemm: context.gemm)
    }
}

/// A fully connected layer on the GEMM.
final class LinearLayer: ExecutableLayer {
    private let wiring: LayerWiring
    private let inFeatures: Int
    private let outFeatures: Int
    private let weight: UnsafeMutablePointer<Float>
    private let bias: UnsafeMutablePointer<Float>?
    private let gradWeight: UnsafeMutablePointer<Float>
    private let gradBias: UnsafeMutablePointer<Float>?
    private let gemm: GEMM

    init(wiring: LayerWiring, inFeatures: Int, outFeatures: Int, weight: UnsafeMutablePointer<Float>,
         bias: UnsafeMutablePointer<Float>?, gradWeight: UnsafeMutablePointer<Float>,
         gradBias: UnsafeMutablePointer<Float>?, gemm: GEMM) {
        self.wiring = wiring; self.inFeatures = inFeatures; self.outFeatures = outFeatures
        self.weight = weight; self.bias = bias; self.gradWeight = gradWeight; self.gradBias = gradBias; self.gemm = gemm
    }

    func forward(batch: Int, training: Bool) {
        Linear.forward(batch: batch, inFeatures: inFeatures, outFeatures: outFeatures, input: wiring.input,
                       weight: weight, bias: bias, output: wiring.output, gemm: gemm)
    }

    func backward(batch: Int) {
        Linear.backward(batch: batch, inFeatures: inFeatures, outFeatures: outFeatures, input: wiring.input,
                        weight: weight, gradOutput: wiring.outputGradient, gradInput: wiring.inputGradient,
                        gradWeight: gradWeight, gradBias: gradBias, gemm: gemm)
    }
}

// MARK: - Export

extension LinearOperation {
    /// `Gemm(x, weight, bias, transB: 1)` — the state_dict weight [out, in] as it is; a feature map is flattened first.
    public func exportONNX(_ node: ExportNode, to builder: any ONNXGraphBuilder) throws {
        var input = node.input
        if node.inputShape.isImage {
            input = builder.apply("Flatten", [input], ["axis": .int(1)], stem: node.name + "_flat")
        }
        var inputs = [input, try builder.parameter("weight", of: node.name)]
        if bias { inputs.append(try builder.parameter("bias", of: node.name)) }
        builder.addNode("Gemm", inputs: inputs, outputs: [node.output], attributes: ["transB": .int(1)])
    }

    /// `nn.Linear(in, out, bias=…)`.
    public func exportPyTorch(_ node: ExportNode) throws -> PyTorchLayer {
        let input = node.inputShape.isImage ? "torch.flatten(\(node.input), 1)" : node.input
        return PyTorchLayer(module: "nn.Linear(\(inFeatures), \(outFeatures), bias=\(PythonLiteral.bool(bias)))",
                            forward: "\(node.module)(\(input))")
    }
}
