import CNNSpec

/// An ONNX node attribute (the subset cnnspec's kinds use).
public enum ONNXAttributeValue: Sendable, Equatable {
    case int(Int)
    case ints([Int])
    case float(Float)
    case string(String)
}

/// What a kind's ONNX mapping may add to the graph being built. Implemented on the protobuf types in
/// CNNExport; a protocol here so layer kinds depend on no serialization library.
public protocol ONNXGraphBuilder: AnyObject {
    /// The opset the model declares (mappings pick the form that opset has).
    var opset: Int { get }
    /// Adds a node of the default domain. Attributes are written sorted by name.
    func addNode(_ opType: String, inputs: [String], outputs: [String], attributes: [String: ONNXAttributeValue])
    /// The initializer holding parameter `suffix` of `layer` (`cnn1.weight`), added on first use with its
    /// state_dict name. Throws when the layer has no such parameter.
    func parameter(_ suffix: String, of layer: String) throws -> String
    /// An int64 constant initializer of shape [values.count] with a fresh name.
    func int64Constant(_ values: [Int], stem: String) -> String
    /// A float constant initializer with a fresh name (shape [] for a scalar).
    func floatConstant(_ values: [Float], shape: [Int], stem: String) -> String
    /// A tensor name not used yet, starting with `stem`.
    func freshName(_ stem: String) -> String
}

extension ONNXGraphBuilder {
    /// Adds a node writing one fresh tensor and returns that tensor's name.
    @discardableResult
    public func apply(_ opType: String, _ inputs: [String], _ attributes: [String: ONNXAttributeValue] = [:],
                      stem: String, into output: String? = nil) -> String {
        let name = output ?? freshName(stem)
        addNode(opType, inputs: inputs, outputs: [name], attributes: attributes)
        return name
    }

    /// A float scalar constant.
    public func scalar(_ value: Float, stem: String) -> String { floatConstant([value], shape: [], stem: stem) }

    /// `Slice` of `input` along `axis` from `start` to `end` (exclusive).
    public func slice(_ input: String, axis: Int, start: Int, end: Int, stem: String) -> String {
        apply("Slice", [input, int64Constant([start], stem: stem + "_start"), int64Constant([end], stem: stem + "_end"),
                        int64Constant([axis], stem: stem + "_axis")], stem: stem)
    }
}

extension TensorShape {
    /// True for a feature map (rank 4 with the batch).
    public var isImage: Bool { if case .image = self { return true } else { return false } }
}
