import CNNKernels
import CNNSpec

/// `maxpool`, `avgpool` and `global_avgpool`: PyTorch's `MaxPool2d`, `AvgPool2d` (floor or ceil mode,
/// `count_include_pad`) and `AdaptiveAvgPool2d(1)`; `adaptive_avgpool`/`adaptive_maxpool` are in AdaptivePooling.swift.
extension LayerDefinition {
    public static let maxpool = PoolingOperation.definition(
        name: "maxpool", synonyms: ["maxpool2d", "max_pool", "max_pool2d"], summary: "max pooling (torch.nn.MaxPool2d)",
        isMax: true)

    public static let avgpool = PoolingOperation.definition(
        name: "avgpool", synonyms: ["avgpool2d", "avg_pool", "avg_pool2d"], summary: "average pooling (torch.nn.AvgPool2d)",
        isMax: false)

    public static let globalAvgpool = LayerDefinition(
        name: "global_avgpool", synonyms: ["global_avg_pool"],
        summary: "average over each whole feature map (torch.nn.AdaptiveAvgPool2d(1))", autoNameStem: "avgpool",
        jsonFields: PoolingOperation.jsonFieldNames(isMax: false),
        infer: { _, context in
            guard let (c, h, w) = context.featureMap() else { return nil }
            let operation = PoolingOperation(kindName: "global_avgpool", mode: .average(countIncludePad: true), kernel: Pair2D(h, w),
                                             stride: Pair2D(h, w), padding: Pair2D(square: 0), ceilMode: false)
            return InferredLayer(operation, shape: .image(channels: c, height: 1, width: 1))
        })
}

/// Max or average pooling over each channel plane.
public struct PoolingOperation: ExecutableOperation, Equatable {
    public enum Mode: Equatable, Sendable {
        case max
        /// `countIncludePad`: whether zero padding counts in the divisor (PyTorch's default true).
        case average(countIncludePad: Bool)
    }

    public var kindName: String
    public var mode: Mode
    public var kernel: Pair2D
    public var stride: Pair2D
    public var padding: Pair2D
    /// Round the output size up (PyTorch's `ceil_mode`).
    public var ceilMode: Bool

    public var summary: String {
        guard kindName != "global_avgpool" else { return "" }
        var text = "k\(kernel) s\(stride) p\(padding)"
        if ceilMode { text += " ceil" }
        if mode == .average(countIncludePad: false) { text += " exclude-pad" }
        return text
    }

    public var jsonFields: [(key: String, value: JSONValue)] {
        var fields: [(key: String, value: JSONValue)] = [
            ("kernel", .integers([kernel.height, kernel.width])), ("stride", .integers([stride.height, stride.width])),
            ("padding", .integers([padding.height, padding.width])), ("ceil_mode", .bool(ceilMode)),
        ]
        if case .average(let countIncludePad) = mode { fields.append(("count_include_pad", .bool(countIncludePad))) }
        return fields
    }

    /// The JSON fields of max or average pooling (`jsonFields` writes them).
    static func jsonFieldNames(isMax: Bool) -> [JSONField] {
        ["kernel", "stride", "padding", "ceil_mode"] + (isMax ? [] : ["count_include_pad"])
    }

    /// The definition of `maxpool` or `avgpool`: the same keys, shape rule and layer.
    static func definition(name: String, synonyms: [String], summary: String, isMax: Bool) -> LayerDefinition {
        var keys = [
            LayerKey("kernel", .pair(minimum: 1), aliases: ["kernel_size"], required: true, summary: "window size"),
            LayerKey("stride", .pair(minimum: 1), derivedDefault: "the kernel", summary: "step between windows"),
            LayerKey("padding", .pair(minimum: 0), default: .integer(0), summary: "implicit padding on each side, at most kernel/2"),
            LayerKey("ceil_mode", .bool, default: .bool(false),
                     summary: "round the output size up; the last window must start inside the input or left padding"),
        ]
        if !isMax {
            keys.append(LayerKey("count_include_pad", .bool, default: .bool(true), summary: "count padding in the divisor"))
        }
        return LayerDefinition(
            name: name, synonyms: synonyms, summary: summary, keys: keys, shortFormKey: "kernel",
            example: "- \(name): 2   or   - \(name): {kernel: 3, stride: 2, padding: 1}",
            jsonFields: jsonFieldNames(isMax: isMax),
            infer: { arguments, context in
                guard let (c, h, w) = context.featureMap(), let kernel = arguments.pair("kernel"),
                      let padding = arguments.pair("padding"), let ceilMode = arguments.bool("ceil_mode") else { return nil }
                let stride = arguments.pair("stride") ?? kernel
                if padding.height > kernel.height / 2 || padding.width > kernel.width / 2 {
                    context.error("padding \(padding) is more than half the kernel \(kernel)", key: "padding",
                                  hint: "PyTorch allows pooling padding of at most kernel/2 (\(kernel.height / 2) here)")
                    return nil
                }
                let window = SlidingWindow(
                    height: .init(kernel: kernel.height, stride: stride.height, padding: padding.height, ceilMode: ceilMode),
                    width: .init(kernel: kernel.width, stride: stride.width, padding: padding.width, ceilMode: ceilMode))
                let smallest = min(h + 2 * padding.height, w + 2 * padding.width)
                guard let (oh, ow) = context.windowOutput(
                    height: h, width: w, window: window,
                    suggestion: "use a smaller \(name) window (at most \(smallest) here), or remove a pooling layer or strided convolution before it")
                else { return nil }
                // count_include_pad is declared (with its default) for average pooling only.
                guard let mode: Mode = isMax ? .max : arguments.bool("count_include_pad").map({ .average(countIncludePad: $0) })
                else { return nil }
                let operation = PoolingOperation(kindName: name, mode: mode, kernel: kernel, stride: stride, padding: padding,
                                                 ceilMode: ceilMode)
                return InferredLayer(operation, shape: .image(channels: c, height: oh, width: ow))
            })
    }

    /// The kernel library's description of this pooling over `input`.
    func geometry(input: TensorShape) -> PoolingGeometry {
        let (channels, height, width) = input.chw
        return PoolingGeometry(channels: channels, inHeight: height, inWidth: width,
                               kernelHeight: kernel.height, kernelWidth: kernel.width,
                               strideHeight: stride.height, strideWidth: stride.width,
                               paddingHeight: padding.height, paddingWidth: padding.width, ceilMode: ceilMode)
    }

    /// Argmax entries (max only), one per output element of the batch.
    func argmaxCount(batchCapacity: Int, output: TensorShape) -> Int { mode == .max ? batchCapacity * output.elementCount : 0 }

    /// The argmax backward reads; and, since the plan may fuse a ReLU before it into a convolution's epilogue
    /// (`ReLUPoolingLayer`), that epilogue's scratch (an upper bound: most pools are not fused).
    public func memory(_ sizing: LayerSizing) -> MemoryFootprint {
        var footprint = MemoryFootprint(workspaceBytes: AlignedBuffer<Int32>.byteCount(
            argmaxCount(batchCapacity: sizing.batchCapacity, output: sizing.outputShape)))
        if !ceilMode {
            footprint = footprint + ReLUPoolingEpilogue.memory(geometry(input: sizing.inputShape), isMax: mode == .max,
                                                               slots: sizing.threads)
        }
        return footprint
    }

    public var outputReLUFusion: OutputReLUFusion { .none }

    public func makeLayer(_ context: LayerBuildContext) throws -> any ExecutableLayer {
        PoolingLayer(wiring: context.wiring, geometry: geometry(input: context.wiring.inputShape), mode: mode,
                     argmaxCount: argmaxCount(batchCapacity: context.batchCapacity, output: context.wiring.outputShape),
                     pool: context.pool)
    }
}

/// Max or average pooling over each channel plane.
final class PoolingLayer: ExecutableLayer {
    private let wiring: LayerWiring
    private let geometry: PoolingGeometry
    private let mode: PoolingOperation.Mode
    /// Where each max came from (max mode only), for the backward pass.
    private let argmax: AlignedBuffer<Int32>
    private let pool: ThreadPool

    init(wiring: LayerWiring, geometry: PoolingGeometry, mode: PoolingOperation.Mode, argmaxCount: Int, pool: ThreadPool) {
        self.wiring = wiring; self.geometry = geometry; self.mode = mode; self.pool = pool
        argmax = AlignedBuffer(count: argmaxCount)
    }

    func forward(batch: Int, training: Bool) {
        switch mode {
        case .max:
            MaxPooling.forward(geometry, batch: batch, input: wiring.input, output: wiring.output, argmax: argmax.pointer, pool: pool)
        case .average(let countIncludePad):
            AveragePooling.forward(geometry, batch: batch, countIncludePad: countIncludePad, input: wiring.input,
                                   output: wiring.output, pool: pool)
        }
    }

    func backward(batch: Int) {
        guard let gradInput = wiring.inputGradient else { return }
        switch mode {
        case .max:
            MaxPooling.backward(geometry, batch: batch, gradOutput: wiring.outputGradient, argmax: argmax.pointer,
                                gradInput: gradInput, pool: pool)
        case .average(let countIncludePad):
            AveragePooling.backward(geometry, batch: batch, countIncludePad: countIncludePad,
                                    gradOutput: wiring.outputGradient, gradInput: gradInput, pool: pool)
        }
    }
}

// MARK: - Export

extension PoolingOperation {
    /// ONNX `MaxPool`/`AveragePool`; `global_avgpool` is `GlobalAveragePool`.
    ///
    /// `ceil_mode` is never written: ONNX's ceil mode keeps a last window that starts in the right
    /// padding, which PyTorch (and cnnspec) drop, so the output sizes would differ. Instead the pool runs
    /// in floor mode with extra padding at the end that gives exactly cnnspec's output size; padding is
    /// ignored by max and, with `count_include_pad: false`, by the average. With `count_include_pad: true`
    /// in ceil mode PyTorch counts the written padding but not the overhang past it, so the written
    /// padding becomes real zeros (`Pad`) and the pool excludes the extra end padding (`count_include_pad: 0`).
    public func exportONNX(_ node: ExportNode, to builder: any ONNXGraphBuilder) throws {
        if kindName == "global_avgpool" {
            builder.addNode("GlobalAveragePool", inputs: [node.input], outputs: [node.output], attributes: [:])
            return
        }
        let (_, inHeight, inWidth) = node.inputShape.chw
        let (_, outHeight, outWidth) = node.outputShape.chw
        var input = node.input
        var before = [padding.height, padding.width]
        var countIncludePad = false
        if case .average(let include) = mode { countIncludePad = include }
        if ceilMode && countIncludePad {
            if padding.height > 0 || padding.width > 0 {
                let pads = builder.int64Constant([0, 0, padding.height, padding.width, 0, 0, padding.height, padding.width],
                                                 stem: node.name + "_pads")
                input = builder.apply("Pad", [input, pads], ["mode": .string("constant")], stem: node.name + "_padded")
                before = [0, 0]
            }
            countIncludePad = false
        }
        let paddedHeight = inHeight + 2 * padding.height, paddedWidth = inWidth + 2 * padding.width
        // Floor mode over (padded input + extra) gives the cnnspec size: (out − 1)·stride + kernel ≤ padded + extra.
        let extraHeight = max(0, (outHeight - 1) * stride.height + kernel.height - paddedHeight)
        let extraWidth = max(0, (outWidth - 1) * stride.width + kernel.width - paddedWidth)
        var attributes: [String: ONNXAttributeValue] = [
            "kernel_shape": .ints([kernel.height, kernel.width]), "strides": .ints([stride.height, stride.width]),
            "pads": .ints([before[0], before[1], before[0] + extraHeight, before[1] + extraWidth])]
        switch mode {
        case .max:
            builder.addNode("MaxPool", inputs: [input], outputs: [node.output], attributes: attributes)
        case .average:
            attributes["count_include_pad"] = .int(countIncludePad ? 1 : 0)
            builder.addNode("AveragePool", inputs: [input], outputs: [node.output], attributes: attributes)
        }
    }

    /// `nn.MaxPool2d`, `nn.AvgPool2d`, or `nn.AdaptiveAvgPool2d(1)` for `global_avgpool`.
    public func exportPyTorch(_ node: ExportNode) throws -> PyTorchLayer {
        if kindName == "global_avgpool" { return .call("nn.AdaptiveAvgPool2d(1)", node) }
        let window = "kernel_size=\(PythonLiteral.pair(kernel)), stride=\(PythonLiteral.pair(stride)), "
            + "padding=\(PythonLiteral.pair(padding)), ceil_mode=\(PythonLiteral.bool(ceilMode))"
        switch mode {
        case .max:
            return .call("nn.MaxPool2d(\(window))", node)
        case .average(let countIncludePad):
            return .call("nn.AvgPool2d(\(window), count_include_pad=\(PythonLiteral.bool(countIncludePad)))", node)
        }
    }
}
