import CNNKernels
import CNNSpec

/// `dropout` and `dropout2d`: PyTorch's `nn.Dropout` (elements) and `nn.Dropout2d` (whole channels);
/// the identity in evaluation.
extension LayerDefinition {
    public static let dropout = DropoutOperation.definition(name: "dropout", channelWise: false,
                                                            summary: "zeroes elements with probability p while training (torch.nn.Dropout)")
    public static let dropout2d = DropoutOperation.definition(name: "dropout2d", channelWise: true,
                                                              summary: "zeroes whole channels with probability p while training (torch.nn.Dropout2d)")
}

public struct DropoutOperation: ExecutableOperation, Equatable {
    public var kindName: String
    public var probability: Float
    public var channelWise: Bool

    public var summary: String { "p \(probability)" }
    public var jsonFields: [(key: String, value: JSONValue)] { [("p", .number(probability))] }

    static func definition(name: String, channelWise: Bool, summary: String) -> LayerDefinition {
        LayerDefinition(
            name: name, summary: summary,
            keys: [LayerKey("p", .number(0...1, what: "a probability between 0 and 1"), default: .number(0.5),
                            summary: "drop probability")],
            shortFormKey: "p", example: "- \(name): 0.25", jsonFields: ["p"],
            infer: { arguments, context in
                if channelWise { guard context.featureMap() != nil else { return nil } }
                guard let p = arguments.number("p") else { return nil }
                return InferredLayer(DropoutOperation(kindName: name, probability: p, channelWise: channelWise), shape: context.input.shape)
            })
    }

    public var outputReLUFusion: OutputReLUFusion { .none }

    /// The mask backward reads, one float per element (per channel for dropout2d) of the batch.
    public func memory(_ sizing: LayerSizing) -> MemoryFootprint {
        MemoryFootprint(workspaceBytes: AlignedBuffer<Float>.byteCount(sizing.batchCapacity * DropoutLayer.maskPerImage(sizing.outputShape, channelWise: channelWise)))
    }

    public func makeLayer(_ context: LayerBuildContext) throws -> any ExecutableLayer {
        DropoutLayer(wiring: context.wiring, probability: probability, channelWise: channelWise, batchCapacity: context.batchCapacity,
                     seed: context.layerSeed)
    }
}

/// Dropout or Dropout2d with its mask kept for the backward pass.
final class DropoutLayer: RandomizedLayer {
    private let wiring: LayerWiring
    private let probability: Float
    private let channelWise: Bool
    private let mask: AlignedBuffer<Float>
    private var generator: SeededGenerator
    private var maskIsActive = false

    init(wiring: LayerWiring, probability: Float, channelWise: Bool, batchCapacity: Int, seed: UInt64) {
        self.wiring = wiring; self.probability = probability; self.channelWise = channelWise
        mask = AlignedBuffer(count: batchCapacity * DropoutLayer.maskPerImage(wiring.outputShape, channelWise: channelWise))
        generator = SeededGenerator(seed: seed)
    }

    /// Mask entries per image: one per element, or one per channel (dropout2d).
    static func maskPerImage(_ shape: TensorShape, channelWise: Bool) -> Int { channelWise ? shape.chw.channels : shape.elementCount }

    var randomState: [UInt64] { generator.state }

    func restoreRandomState(_ state: [UInt64]) -> Bool {
        guard let restored = SeededGenerator(state: state) else { return false }
        generator = restored
        return true
    }

    func forward(batch: Int, training: Bool) {
        let count = batch * wiring.outputShape.elementCount
        maskIsActive = training && probability > 0
        guard maskIsActive else {
            wiring.output.update(from: wiring.input, count: count)
            return
        }
        if channelWise {
            let (channels, height, width) = wiring.outputShape.chw
            Dropout.forward2d(batch: batch, channels: channels, spatial: height * width, p: probability,
                              input: wiring.input, output: wiring.output, mask: mask.pointer, generator: &generator)
        } else {
            Dropout.forward(count: count, p: probability, input: wiring.input, output: wiring.output,
                            mask: mask.pointer, generator: &generator)
        }
    }

    func backward(batch: Int) {
        guard let gradInput = wiring.inputGradient else { return }
        let count = batch * wiring.outputShape.elementCount
        guard maskIsActive else {
            gradInput.update(from: wiring.outputGradient, count: count)
            return
        }
        if channelWise {
            let (channels, height, width) = wiring.outputShape.chw
            Dropout.backward2d(batch: batch, channels: channels, spatial: height * width,
                               gradOutput: wiring.outputGradient, mask: mask.pointer, gradInput: gradInput)
        } else {
            Dropout.backward(count: count, gradOutput: wiring.outputGradient, mask: mask.pointer, gradInput: gradInput)
        }
    }
}

// MARK: - Export

extension DropoutOperation {
    /// Inference form: `Identity`.
    public func exportONNX(_ node: ExportNode, to builder: any ONNXGraphBuilder) throws {
        builder.addNode("Identity", inputs: [node.input], outputs: [node.output], attributes: [:])
    }

    /// `nn.Dropout(p=…)`/`nn.Dropout2d(p=…)` (the identity once the module is in `eval()`).
    public func exportPyTorch(_ node: ExportNode) throws -> PyTorchLayer {
        .call("nn.\(channelWise ? "Dropout2d" : "Dropout")(p=\(PythonLiteral.number(probability)))", node)
    }
}
