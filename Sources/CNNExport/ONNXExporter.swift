import CNNLayers
import CNNSpec
import CNNTrain
import Foundation
import SwiftProtobuf

/// Builds an ONNX model (`ModelProto`, from the committed `ONNX/onnx.pb.swift`) from a graph and its weights.
///
/// Every node's tensor is named after its layer, the graph input after the model's input node (batch
/// dimension `batch`, dynamic), the output after the last layer; weights are initializers with their
/// state_dict names (`cnn1.weight`), so the ONNX file reads like the checkpoint. What each layer
/// becomes is its kind's `exportONNX` (Sources/CNNLayers/Kinds), not decided here.
public enum ONNXExporter {
    /// The default opset: 17 is what most runtimes and converters accept; kinds build newer ops
    /// (`Gelu`, `Mish`) from older ones below the opset that has them.
    public static let defaultOpset = 17
    /// The opsets `--opset` accepts: 17 up to the newest ops the mappings know.
    public static let supportedOpsets = 17...21
    /// The name of the dynamic batch dimension.
    public static let batchDimension = "batch"

    /// The IR version that goes with an opset (onnx/onnx docs/Versioning.md: opset 17 ↔ IR 8, 19–20 ↔ 9, 21 ↔ 10).
    static func irVersion(forOpset opset: Int) -> Int64 {
        switch opset {
        case ...17: return 8
        case 18: return 8
        case 19, 20: return 9
        default: return 10
        }
    }

    /// The model for `graph` with `weights` (state_dict names → tensors). Throws `ExportRefusal` for a
    /// layer with no exact ONNX form, and when a weight the graph needs is missing.
    public static func model(for graph: ModelGraph, weights: [String: SafetensorsFile.Tensor], opset: Int = defaultOpset,
                             producerVersion: String = "", docString: String = "") throws -> Onnx_ModelProto {
        let builder = ONNXModelBuilder(opset: opset, weights: weights, reserved: graph.nodes.map(\.name))
        for (index, node) in graph.nodes.enumerated() where index > 0 {
            guard let operation = node.op as? any ExportableOperation else {
                throw ExportRefusal(layer: node.name, reason: "kind \(node.op.kindName) has no export mapping")  // invariant: catalog kinds conform
            }
            let exportNode = ExportNode(name: node.name, inputs: node.inputs.map { graph.nodes[$0].name },
                                        inputShapes: node.inputs.map { graph.nodes[$0].outputShape },
                                        output: node.name, outputShape: node.outputShape)
            builder.currentLayer = node.name
            try operation.exportONNX(exportNode, to: builder)
        }
        var model = Onnx_ModelProto()
        model.irVersion = irVersion(forOpset: opset)
        model.producerName = "cnnspec"
        model.producerVersion = producerVersion
        model.docString = docString
        var opsetID = Onnx_OperatorSetIdProto()
        opsetID.domain = ""
        opsetID.version = Int64(opset)
        model.opsetImport = [opsetID]
        var onnxGraph = Onnx_GraphProto()
        onnxGraph.name = graph.name
        onnxGraph.node = builder.nodes
        onnxGraph.initializer = builder.initializers
        onnxGraph.input = [valueInfo(graph.nodes[0].name, shape: graph.inputShape)]
        onnxGraph.output = [valueInfo(graph.nodes[graph.nodes.count - 1].name, shape: graph.outputShape)]
        model.graph = onnxGraph
        return model
    }

    /// The serialized model.
    public static func serialize(_ model: Onnx_ModelProto) throws -> Data {
        try model.serializedData()
    }

    /// A float tensor's value info with the dynamic batch dimension first.
    static func valueInfo(_ name: String, shape: TensorShape) -> Onnx_ValueInfoProto {
        var tensorShape = Onnx_TensorShapeProto()
        var batch = Onnx_TensorShapeProto.Dimension()
        batch.dimParam = batchDimension
        tensorShape.dim = [batch] + shape.dimensions.map { size in
            var dimension = Onnx_TensorShapeProto.Dimension()
            dimension.dimValue = Int64(size)
            return dimension
        }
        var tensorType = Onnx_TypeProto.Tensor()
        tensorType.elemType = Int32(Onnx_TensorProto.DataType.float.rawValue)
        tensorType.shape = tensorShape
        var type = Onnx_TypeProto()
        type.tensorType = tensorType
        var info = Onnx_ValueInfoProto()
        info.name = name
        info.type = type
        return info
    }
}

/// `ONNXGraphBuilder` on the protobuf types: collects nodes and initializers, hands out unique names.
final class ONNXModelBuilder: ONNXGraphBuilder {
    let opset: Int
    private let weights: [String: SafetensorsFile.Tensor]
    private(set) var nodes: [Onnx_NodeProto] = []
    private(set) var initializers: [Onnx_TensorProto] = []
    private var usedNames: Set<String>
    private var addedParameters: Set<String> = []
    private var nodeCounts: [String: Int] = [:]
    /// The layer being exported (names its nodes).
    var currentLayer = ""

    init(opset: Int, weights: [String: SafetensorsFile.Tensor], reserved: [String]) {
        self.opset = opset
        self.weights = weights
        usedNames = Set(reserved).union(weights.keys)
    }

    func addNode(_ opType: String, inputs: [String], outputs: [String], attributes: [String: ONNXAttributeValue]) {
        var node = Onnx_NodeProto()
        node.opType = opType
        node.input = inputs
        node.output = outputs
        let count = nodeCounts[currentLayer, default: 0]
        nodeCounts[currentLayer] = count + 1
        node.name = count == 0 ? currentLayer : "\(currentLayer)/\(opType)_\(count)"
        node.attribute = attributes.keys.sorted().map { name in
            // invariant: name comes from attributes.keys
            Self.attribute(name, attributes[name]!)
        }
        nodes.append(node)
    }

    static func attribute(_ name: String, _ value: ONNXAttributeValue) -> Onnx_AttributeProto {
        var attribute = Onnx_AttributeProto()
        attribute.name = name
        switch value {
        case .int(let number):
            attribute.type = .int
            attribute.i = Int64(number)
        case .ints(let numbers):
            attribute.type = .ints
            attribute.ints = numbers.map(Int64.init)
        case .float(let number):
            attribute.type = .float
            attribute.f = number
        case .string(let text):
            attribute.type = .string
            attribute.s = Data(text.utf8)
        }
        return attribute
    }

    func parameter(_ suffix: String, of layer: String) throws -> String {
        let name = layer + "." + suffix
        guard let tensor = weights[name] else {
            throw ExportRefusal(layer: layer, reason: "the weights have no tensor '\(name)'")
        }
        if addedParameters.insert(name).inserted {
            initializers.append(Self.floatTensor(name: name, shape: tensor.shape, values: tensor.data))
        }
        return name
    }

    func int64Constant(_ values: [Int], stem: String) -> String {
        let name = freshName(stem)
        var tensor = Onnx_TensorProto()
        tensor.name = name
        tensor.dataType = Int32(Onnx_TensorProto.DataType.int64.rawValue)
        tensor.dims = [Int64(values.count)]
        tensor.rawData = values.map { Int64($0).littleEndian }.withUnsafeBytes { Data($0) }
        initializers.append(tensor)
        return name
    }

    func floatConstant(_ values: [Float], shape: [Int], stem: String) -> String {
        let name = freshName(stem)
        initializers.append(Self.floatTensor(name: name, shape: shape, values: values))
        return name
    }

    func freshName(_ stem: String) -> String {
        var name = stem
        var suffix = 1
        while usedNames.contains(name) {
            name = "\(stem)_\(suffix)"
            suffix += 1
        }
        usedNames.insert(name)
        return name
    }

    /// A float32 initializer; `raw_data` is little-endian IEEE 754, as ONNX specifies.
    static func floatTensor(name: String, shape: [Int], values: [Float]) -> Onnx_TensorProto {
        var tensor = Onnx_TensorProto()
        tensor.name = name
        tensor.dataType = Int32(Onnx_TensorProto.DataType.float.rawValue)
        tensor.dims = shape.map(Int64.init)
        #if _endian(little)
        tensor.rawData = values.withUnsafeBytes { Data($0) }
        #else
        tensor.rawData = values.map { $0.bitPattern.littleEndian }.withUnsafeBytes { Data($0) }
        #endif
        return tensor
    }
}
