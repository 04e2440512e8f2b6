import CNNKernels
import CNNSpec

/// `flatten` and `identity`: the output is the input itself (NCHW is already row-major per image),
/// so the plan aliases their buffers and they do no work.
extension LayerDefinition {
    public static let flatten = LayerDefinition(
        name: "flatten", summary: "C×H×W to a vector, as torch.flatten(x, 1)",
        infer: { _, context in
            InferredLayer(ViewOperation(kindName: "flatten"), shape: .vector(features: context.input.shape.elementCount))
        })

    public static let identity = LayerDefinition(
        name: "identity", summary: "passes its input through (torch.nn.Identity), e.g. a named placeholder",
        infer: { _, context in InferredLayer(ViewOperation(kindName: "identity"), shape: context.input.shape) })
}

/// An operation whose output is its input, reinterpreted.
public struct ViewOperation: ExecutableOperation, Equatable {
    public var kindName: String
    public var isView: Bool { true }

    /// The layer works on the plan's buffers and its parameters only.
    public func memory(_ sizing: LayerSizing) -> MemoryFootprint { .zero }

    public var outputReLUFusion: OutputReLUFusion { .none }

    public func makeLayer(_ context: LayerBuildContext) throws -> any ExecutableLayer { ViewLayer(wiring: context.wiring) }
}

/// Copies only when the plan could not alias the buffers (the gradient of an input read by several layers).
final class ViewLayer: ExecutableLayer {
    private let wiring: LayerWiring

    init(wiring: LayerWiring) { self.wiring = wiring }

    func forward(batch: Int, training: Bool) {
        if wiring.output != wiring.input {
            wiring.output.update(from: wiring.input, count: batch * wiring.outputShape.elementCount)
        }
    }

    func backward(batch: Int) {
        guard let gradInput = wiring.inputGradient, gradInput != wiring.outputGradient else { return }
        gradInput.update(from: wiring.outputGradient, count: batch * wiring.outputShape.elementCount)
    }
}

// MARK: - Export

extension ViewOperation {
    /// `Flatten(axis: 1)` (the identity on a vector) or `Identity`.
    public func exportONNX(_ node: ExportNode, to builder: any ONNXGraphBuilder) throws {
        if kindName == "flatten" && node.inputShape.isImage {
            builder.addNode("Flatten", inputs: [node.input], outputs: [node.output], attributes: ["axis": .int(1)])
        } else {
            builder.addNode("Identity", inputs: [node.input], outputs: [node.output], attributes: [:])
        }
    }

    /// `nn.Flatten()` or `nn.Identity()`.
    public func exportPyTorch(_ node: ExportNode) throws -> PyTorchLayer {
        .call(kindName == "flatten" ? "nn.Flatten()" : "nn.Identity()", node)
    }
}
