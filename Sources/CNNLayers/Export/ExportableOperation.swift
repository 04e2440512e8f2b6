import CNNSpec

/// How a layer kind leaves cnnspec: its ONNX nodes and its `torch.nn` module.
///
/// Every kind's operation conforms in its own file in `Sources/CNNLayers/Kinds/` (an `extension` at
/// the end), beside its executor mapping, so a kind is still defined in one place; `ExecutableOperation`
/// refines this protocol, so a kind without an export mapping does not compile. The mapping knows no
/// protobuf: it talks to an `ONNXGraphBuilder` (implemented in CNNExport) and returns Python text.
public protocol ExportableOperation: LayerOperation {
    /// Adds the ONNX nodes computing `node.output` from `node.inputs` (opset `builder.opset`). Throws
    /// `ExportRefusal` when the layer has no exact ONNX form.
    func exportONNX(_ node: ExportNode, to builder: any ONNXGraphBuilder) throws
    /// The equivalent PyTorch module and how `forward` reads its inputs.
    func exportPyTorch(_ node: ExportNode) throws -> PyTorchLayer
}

/// One graph node as the exporters see it: its name, where its inputs come from and its shapes.
public struct ExportNode: Sendable {
    /// The layer's name (the prefix of its parameters: `layer1.0.conv1`).
    public var name: String
    /// The names of the input tensors (ONNX) or the Python variables (PyTorch), in `from:` order.
    public var inputs: [String]
    public var inputShapes: [TensorShape]
    /// The tensor (ONNX) or variable (PyTorch) the layer must produce.
    public var output: String
    public var outputShape: TensorShape
    /// PyTorch only: the expression naming this layer's module in `forward` (`self.get_submodule('cnn1')`).
    public var module: String

    public init(name: String, inputs: [String], inputShapes: [TensorShape], output: String, outputShape: TensorShape,
                module: String = "") {
        self.name = name; self.inputs = inputs; self.inputShapes = inputShapes; self.output = output
        self.outputShape = outputShape; self.module = module
    }

    public var input: String { inputs[0] }
    public var inputShape: TensorShape { inputShapes[0] }
}

/// A layer in the generated PyTorch file.
public struct PyTorchLayer: Sendable, Equatable {
    /// The module constructor (`nn.Conv2d(1, 16, kernel_size=(5, 5), …)`), installed under the layer's
    /// name so `state_dict()` keys match cnnspec's; nil for merges, which are plain expressions.
    public var module: String?
    /// The right-hand side of the layer's line in `forward` (`self.get_submodule('cnn1')(x)`, `a + b`).
    public var forward: String

    public init(module: String?, forward: String) { self.module = module; self.forward = forward }

    /// A module called on the node's single input: the common case.
    public static func call(_ module: String, _ node: ExportNode) -> PyTorchLayer {
        PyTorchLayer(module: module, forward: "\(node.module)(\(node.input))")
    }
}

/// Why a layer could not be exported (a configuration with no exact equivalent in the format).
public struct ExportRefusal: Error, Sendable, CustomStringConvertible {
    public var layer: String
    public var reason: String
    public init(layer: String, reason: String) { self.layer = layer; self.reason = reason }
    public var description: String { "layer '\(layer)': \(reason)" }
}

/// Python literals for the generated file.
public enum PythonLiteral {
    /// A float32 value as Python reads it back to the same float32 (shortest round-trip form).
    public static func number(_ value: Float) -> String {
        let text = "\(value)"
        return text.contains(".") || text.contains("e") ? text : text + ".0"
    }

    /// A pair `(h, w)`.
    public static func pair(_ pair: Pair2D) -> String { "(\(pair.height), \(pair.width))" }

    /// `True`/`False`.
    public static func bool(_ value: Bool) -> String { value ? "True" : "False" }

    /// A single-quoted string (layer names are identifiers with dots, no quotes).
    public static func string(_ value: String) -> String {
        "'" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'") + "'"
    }
}
