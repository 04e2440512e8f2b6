import CNNKernels
import CNNSpec

/// `adaptive_avgpool` and `adaptive_maxpool`: PyTorch's `AdaptiveAvgPool2d`/`AdaptiveMaxPool2d` — a
/// fixed output size, output cell i of n over an input side L pooling ⌊i·L/n⌋ … ⌈(i+1)·L/n⌉ − 1.
extension LayerDefinition {
    public static let adaptiveAvgpool = AdaptivePoolingOperation.definition(
        name: "adaptive_avgpool", synonyms: ["adaptiveavgpool2d", "adaptive_avg_pool2d", "adaptive_avgpool2d"],
        summary: "average pooling to a fixed output size (torch.nn.AdaptiveAvgPool2d)", isMax: false)

    public static let adaptiveMaxpool = AdaptivePoolingOperation.definition(
        name: "adaptive_maxpool", synonyms: ["adaptivemaxpool2d", "adaptive_max_pool2d", "adaptive_maxpool2d"],
        summary: "max pooling to a fixed output size (torch.nn.AdaptiveMaxPool2d)", isMax: true)
}

public struct AdaptivePoolingOperation: ExecutableOperation, Equatable {
    public var kindName: String
    public var isMax: Bool
    public var output: Pair2D

    public var summary: String { "out \(output)" }
    public var jsonFields: [(key: String, value: JSONValue)] { [("output_size", .integers([output.height, output.width]))] }

    static func definition(name: String, synonyms: [String], summary: String, isMax: Bool) -> LayerDefinition {
        LayerDefinition(
            name: name, synonyms: synonyms, summary: summary,
            keys: [LayerKey("output", .pair(minimum: 1), aliases: ["output_size"], default: isMax ? nil : .integer(1),
                            required: isMax, summary: "output height and width")],
            shortFormKey: "output", autoNameStem: isMax ? "maxpool" : "avgpool", example: "- \(name): [7, 7]",
            jsonFields: ["output_size"],
            infer: { arguments, context in
                guard let (c, _, _) = context.featureMap(), let output = arguments.pair("output"),
                      let shape = context.checkedShape(.image(channels: c, height: output.height, width: output.width))
                else { return nil }
                return InferredLayer(AdaptivePoolingOperation(kindName: name, isMax: isMax, output: output), shape: shape)
            })
    }

    /// Argmax entries (max only), one per output element of the batch.
    static func argmaxCount(isMax: Bool, batchCapacity: Int, output: TensorShape) -> Int { isMax ? batchCapacity * output.elementCount : 0 }

    public var outputReLUFusion: OutputReLUFusion { .none }

    /// The argmax backward reads.
    public func memory(_ sizing: LayerSizing) -> MemoryFootprint {
        MemoryFootprint(workspaceBytes: AlignedBuffer<Int32>.byteCount(
            Self.argmaxCount(isMax: isMax, batchCapacity: sizing.batchCapacity, output: sizing.outputShape)))
    }

    public func makeLayer(_ context: LayerBuildContext) throws -> any ExecutableLayer {
        let (channels, height, width) = context.wiring.inputShape.chw
        let geometry = AdaptivePoolingGeometry(channels: channels, inHeight: height, inWidth: width, outHeight: output.height,
                                               outWidth: output.width)
        return AdaptivePoolingLayer(wiring: context.wiring, geometry: geometry, isMax: isMax, batchCapacity: context.batchCapacity,
                                    pool: context.pool)
    }
}

final class AdaptivePoolingLayer: ExecutableLayer {
    private let wiring: LayerWiring
    private let geometry: AdaptivePoolingGeometry
    private let isMax: Bool
    /// Where each max came from (max only), for the backward pass.
    private let argmax: AlignedBuffer<Int32>
    private let pool: ThreadPool

    init(wiring: LayerWiring, geometry: AdaptivePoolingGeometry, isMax: Bool, batchCapacity: Int, pool: ThreadPool) {
        self.wiring = wiring; self.geometry = geometry; self.isMax = isMax; self.pool = pool
        argmax = AlignedBuffer(count: AdaptivePoolingOperation.argmaxCount(isMax: isMax, batchCapacity: batchCapacity,
                                                                          output: wiring.outputShape))
    }

    func forward(batch: Int, training: Bool) {
        if isMax {
            AdaptiveMaxPooling.forward(geometry, batch: batch, input: wiring.input, output: wiring.output, argmax: argmax.pointer,
                                       pool: pool)
        } else {
            AdaptiveAveragePooling.forward(geometry, batch: batch, input: wiring.input, output: wiring.output, pool: pool)
        }
    }

    func backward(batch: Int) {
        guard let gradInput = wiring.inputGradient else { return }
        if isMax {
            AdaptiveMaxPooling.backward(geometry, batch: batch, gradOutput: wiring.outputGradient, argmax: argmax.pointer,
                                        gradInput: gradInput, pool: pool)
        } else {
            AdaptiveAveragePooling.backward(geometry, batch: batch, gradOutput: wiring.outputGradient, gradInput: gradInput, pool: pool)
        }
    }
}

// MARK: - Export

extension AdaptivePoolingOperation {
    /// Output 1×1 is `GlobalAveragePool`/`GlobalMaxPool`; sizes that divide the input are a plain pool
    /// with kernel = stride = input/output. Otherwise the windows differ in size, which no ONNX pool
    /// expresses, so the exact windows are built: pooling is separable (the mean of equal-length row
    /// means is the rectangle's mean; the max of maxes is the max), so each output row's window is a
    /// `Slice` reduced over height and concatenated, then the same along width — out_h + out_w slices.
    public func exportONNX(_ node: ExportNode, to builder: any ONNXGraphBuilder) throws {
        let (_, height, width) = node.inputShape.chw
        if output == Pair2D(square: 1) {
            builder.addNode(isMax ? "GlobalMaxPool" : "GlobalAveragePool", inputs: [node.input], outputs: [node.output], attributes: [:])
            return
        }
        if height % output.height == 0 && width % output.width == 0 {
            let window = [height / output.height, width / output.width]
            builder.addNode(isMax ? "MaxPool" : "AveragePool", inputs: [node.input], outputs: [node.output],
                            attributes: ["kernel_shape": .ints(window), "strides": .ints(window)])
            return
        }
        let rows = windows(axis: 2, inputSize: height, outputSize: output.height, input: node.input, builder, stem: node.name + "_rows")
        _ = windows(axis: 3, inputSize: width, outputSize: output.width, input: rows, builder, stem: node.name + "_cols",
                    into: node.output)
    }

    /// PyTorch's adaptive windows along one axis, each sliced and reduced, concatenated along it.
    private func windows(axis: Int, inputSize: Int, outputSize: Int, input: String, _ builder: any ONNXGraphBuilder,
                         stem: String, into output: String? = nil) -> String {
        if inputSize == outputSize {
            return output.map { builder.apply("Identity", [input], stem: stem, into: $0) } ?? input
        }
        var parts: [String] = []
        for index in 0..<outputSize {
            let start = index * inputSize / outputSize
            let end = ((index + 1) * inputSize + outputSize - 1) / outputSize
            let slice = builder.slice(input, axis: axis, start: start, end: end, stem: "\(stem)\(index)")
            let reduction = isMax ? "ReduceMax" : "ReduceMean"
            // Opset 18 moved the axes of the Reduce ops from an attribute to an input.
            if builder.opset >= 18 {
                parts.append(builder.apply(reduction, [slice, builder.int64Constant([axis], stem: "\(stem)\(index)_axes")],
                                           ["keepdims": .int(1)], stem: "\(stem)\(index)_reduced"))
            } else {
                parts.append(builder.apply(reduction, [slice], ["axes": .ints([axis]), "keepdims": .int(1)],
                                           stem: "\(stem)\(index)_reduced"))
            }
        }
        return builder.apply("Concat", parts, ["axis": .int(axis)], stem: stem, into: output)
    }

    /// `nn.AdaptiveAvgPool2d`/`nn.AdaptiveMaxPool2d`.
    public func exportPyTorch(_ node: ExportNode) throws -> PyTorchLayer {
        .call("nn.\(isMax ? "AdaptiveMaxPool2d" : "AdaptiveAvgPool2d")(\(PythonLiteral.pair(output)))", node)
    }
}
