import CNNKernels
import CNNSpec

/// `conv2d`: PyTorch's `nn.Conv2d`, with dilation, groups (depthwise with `groups: in`), `same`
/// padding for any kernel (the odd pixel goes bottom/right, as PyTorch does) and padding modes.
extension LayerDefinition {
    public static let conv2d = LayerDefinition(
        name: "conv2d", synonyms: ["conv", "convolution", "conv2d"],
        summary: "2-D convolution (torch.nn.Conv2d); weight [out, in/groups, kh, kw]",
        keys: [
            LayerKey("out", .integer(minimum: 1), aliases: ["out_channels"], required: true, summary: "output channels"),
            LayerKey("in", .integer(minimum: 1), aliases: ["in_channels"], derivedDefault: "inferred",
                     summary: "input channels; checked against the input when written"),
            LayerKey("kernel", .pair(minimum: 1), aliases: ["kernel_size"], required: true, summary: "window size"),
            LayerKey("stride", .pair(minimum: 1), default: .integer(1), summary: "step between windows"),
            LayerKey("padding", .pairOrChoice(minimum: 0, choices: ["same", "valid"]), default: .integer(0),
                     summary: "zeros (or padding_mode values) added on each side; same keeps the size (stride 1), valid is 0"),
            LayerKey("dilation", .pair(minimum: 1), default: .integer(1), summary: "spacing between kernel taps"),
            LayerKey("groups", .integerOrChoice(minimum: 1, choices: ["in"]), default: .integer(1),
                     summary: "channel groups; in and out must be multiples; 'in' is depthwise (groups = input channels)"),
            LayerKey("padding_mode", .choice(ConvolutionPaddingMode.allCases.map(\.rawValue)), default: .word("zeros"),
                     summary: "what the padding holds"),
            LayerKey("bias", .bool, default: .bool(true), summary: "learn a bias per output channel"),
            LayerKey("backend", .choice(BackendRequest.allCases.map(\.rawValue)),
                     derivedDefault: "the run's train.backend", summary: "convolution algorithm for this layer"),
        ],
        shortFormKey: "out", autoNameStem: "conv", example: "- conv: {out: 16, kernel: 5, padding: same}",
        jsonFields: ["in_channels", "out_channels", "kernel", "stride",
                     JSONField("padding", note: "`[h, w]` when symmetric, else `[top, bottom, left, right]`, resolved"),
                     "dilation", "groups", "padding_mode", "bias", JSONField("backend", note: "when written")],
        infer: Conv2dOperation.infer)
}

/// A 2-D convolution with every padding resolved to numbers.
public struct Conv2dOperation: ExecutableOperation, Equatable {
    public var inChannels: Int
    public var outChannels: Int
    public var kernel: Pair2D
    public var stride: Pair2D
    public var dilation: Pair2D
    public var paddingTop: Int, paddingBottom: Int, paddingLeft: Int, paddingRight: Int
    public var groups: Int
    public var paddingMode: ConvolutionPaddingMode
    public var bias: Bool
    /// The backend the model file asks for, if any.
    public var backend: BackendRequest?

    public var kindName: String { "conv2d" }

    /// Symmetric padding as a pair, when it is symmetric.
    public var symmetricPadding: Pair2D? {
        paddingTop == paddingBottom && paddingLeft == paddingRight ? Pair2D(paddingTop, paddingLeft) : nil
    }

    public var parameters: [ParameterDeclaration] {
        let fanIn = inChannels / groups * kernel.height * kernel.width
        var declared = [ParameterDeclaration("weight", shape: [outChannels, inChannels / groups, kernel.height, kernel.width],
                                             initialization: .uniform(fanIn: fanIn))]
        if bias { declared.append(ParameterDeclaration("bias", shape: [outChannels], initialization: .uniform(fanIn: fanIn))) }
        return declared
    }

    public var summary: String {
        let padding: String
        if let symmetric = symmetricPadding {
            padding = "p\(symmetric)"
        } else {
            let height = paddingTop == paddingBottom ? "\(paddingTop)" : "\(paddingTop)+\(paddingBottom)"
            let width = paddingLeft == paddingRight ? "\(paddingLeft)" : "\(paddingLeft)+\(paddingRight)"
            padding = height == width ? "p\(height)" : "p\(height)×\(width)"
        }
        var text = "k\(kernel) s\(stride) \(padding)"
        if dilation != Pair2D(square: 1) { text += " d\(dilation)" }
        if groups != 1 { text += groups == inChannels ? " dw" : " g\(groups)" }
        if paddingMode != .zeros { text += " \(paddingMode.rawValue)" }
        if !bias { text += " no-bias" }
        return text
    }

    public var jsonFields: [(key: String, value: JSONValue)] {
        var fields: [(key: String, value: JSONValue)] = [
            ("in_channels", .integer(inChannels)), ("out_channels", .integer(outChannels)),
            ("kernel", .integers([kernel.height, kernel.width])), ("stride", .integers([stride.height, stride.width])),
            ("padding", symmetricPadding.map { .integers([$0.height, $0.width]) }
                ?? .integers([paddingTop, paddingBottom, paddingLeft, paddingRight])),
            ("dilation", .integers([dilation.height, dilation.width])), ("groups", .integer(groups)),
            ("padding_mode", .string(paddingMode.rawValue)), ("bias", .bool(bias)),
        ]
        if let backend { fields.append(("backend", .string(backend.description))) }
        return fields
    }

    /// The shape rule: resolves `same`/`valid`, `groups: in`, checks divisibility and explains empty outputs.
    @Sendable static func infer(_ arguments: LayerArguments, _ context: ShapeContext) -> InferredLayer? {
        guard let (c, h, w) = context.featureMap(), context.checkWritten("in", equals: c, what: "channel"),
              let out = arguments.integer("out"), let kernel = arguments.pair("kernel"), let stride = arguments.pair("stride"),
              let dilation = arguments.pair("dilation"), let bias = arguments.bool("bias"),
              let mode = arguments.word("padding_mode").flatMap(ConvolutionPaddingMode.init(rawValue:))
        else { return nil }
        guard let groups = arguments.word("groups") == "in" ? c : arguments.integer("groups") else { return nil }
        guard c % groups == 0, out % groups == 0 else {
            let depthwise = arguments.word("groups") == "in" ? " (groups: in is depthwise, one group per input channel)" : ""
            context.error("groups \(groups) must divide the input channels (\(c)) and out (\(out))\(depthwise)", key: "groups",
                          hint: out % groups != 0 && c % groups == 0
                              ? "write out: \(max(groups, out / groups * groups)) (a multiple of \(groups))"
                              : "use a divisor of \(c) for groups")
            return nil
        }
        // Padding: numbers as written; `valid` is none; `same` is PyTorch's total D·(K − 1), the odd pixel after.
        var top = 0, bottom = 0, left = 0, right = 0
        switch arguments.value("padding") {
        case .word("same")?:
            guard stride == Pair2D(square: 1) else {
                context.error("padding: same needs stride 1, got stride \(stride)", key: "padding",
                              hint: "PyTorch refuses 'same' for strided convolutions; write the padding explicitly, e.g. padding: \(Pair2D(dilation.height * (kernel.height - 1) / 2, dilation.width * (kernel.width - 1) / 2))")
                return nil
            }
            let totalHeight = dilation.height * (kernel.height - 1), totalWidth = dilation.width * (kernel.width - 1)
            (top, bottom) = (totalHeight / 2, totalHeight - totalHeight / 2)
            (left, right) = (totalWidth / 2, totalWidth - totalWidth / 2)
        case .word?:  // valid
            break
        default:
            guard let padding = arguments.pair("padding") else { return nil }  // invariant: the key has a default
            (top, bottom, left, right) = (padding.height, padding.height, padding.width, padding.width)
        }
        // PyTorch pads with F.pad: reflect needs padding < size, circular at most the size; replicate
        // has no limit (every padded pixel copies the nearest edge pixel).
        let limit: (height: Int, width: Int, wording: String)?
        switch mode {
        case .zeros, .replicate: limit = nil
        case .reflect: limit = (h - 1, w - 1, "smaller than")
        case .circular: limit = (h, w, "at most")
        }
        if let limit, max(top, bottom) > limit.height || max(left, right) > limit.width {
            context.error("padding_mode \(mode.rawValue) needs padding \(limit.wording) the input size \(h)×\(w)",
                          key: "padding", hint: "use less padding, or padding_mode: replicate or zeros")
            return nil
        }
        let window = SlidingWindow(
            height: .init(kernel: kernel.height, stride: stride.height, paddingBefore: top, paddingAfter: bottom, dilation: dilation.height),
            width: .init(kernel: kernel.width, stride: stride.width, paddingBefore: left, paddingAfter: right, dilation: dilation.width))
        let smallest = min(h + top + bottom, w + left + right)
        let largestKernel = max(1, (smallest - 1) / max(dilation.height, dilation.width) + 1)
        let neededPadding = max((window.height.effectiveKernel - h + 1) / 2, (window.width.effectiveKernel - w + 1) / 2)
        guard let (oh, ow) = context.windowOutput(
            height: h, width: w, window: window,
            suggestion: "use a smaller kernel (at most \(largestKernel) here), add padding (padding: \(max(neededPadding, top)) or more), or remove a pooling layer before it")
        else { return nil }
        guard let shape = context.checkedShape(.image(channels: out, height: oh, width: ow)),
              let macs = context.product(out, oh, ow, c / groups, kernel.height, kernel.width),
              context.product(out, c / groups, kernel.height, kernel.width, limit: ShapeContext.maximumElements) != nil
        else { return nil }
        // Typed here, at load: the key's choices are `BackendRequest`'s, so a word that does not parse is a
        // located error like any other invalid value, never a request silently dropped.
        var backend: BackendRequest?
        if let word = arguments.word("backend") {
            guard let request = BackendRequest(name: word) else {
                context.error("unknown backend '\(word)'", key: "backend",
                              hint: "use \(LayerKey.ValueType.listed(BackendRequest.allCases.map(\.rawValue)))")
                return nil
            }
            backend = request
        }
        let operation = Conv2dOperation(inChannels: c, outChannels: out, kernel: kernel, stride: stride, dilation: dilation,
                                        paddingTop: top, paddingBottom: bottom, paddingLeft: left, paddingRight: right,
                                        groups: groups, paddingMode: mode, bias: bias, backend: backend)
        return InferredLayer(operation, shape: shape, macs: macs)
    }

    /// The kernel library's description of this convolution at `batch` images of `height`×`width`.
    public func geometry(batch: Int, height: Int, width: Int) -> ConvolutionGeometry {
        ConvolutionGeometry(batch: batch, inChannels: inChannels, inHeight: height, inWidth: width, outChannels: outChannels,
                            kernelHeight: kernel.height, kernelWidth: kernel.width, strideHeight: stride.height,
                            strideWidth: stride.width, paddingTop: paddingTop, paddingBottom: paddingBottom,
                            paddingLeft: paddingLeft, paddingRight: paddingRight, dilationHeight: dilation.height,
                            dilationWidth: dilation.width, groups: groups, paddingMode: paddingMode)
    }

    /// The kernel's memory on the backend the model file or the run asks for; for `auto`, the largest of the
    /// backends that can run the layer (any may win the timing: Toeplitz's matrix, Winograd's weights).
    public func memory(_ sizing: LayerSizing) -> MemoryFootprint {
        let (_, height, width) = sizing.inputShape.chw
        let geometry = self.geometry(batch: sizing.batchCapacity, height: height, width: width)
        let candidates: [ConvolutionBackendKind]
        switch backend ?? sizing.requestedBackend {
        case .fixed(let kind): candidates = [kind]
        case .auto: candidates = ConvolutionBackendKind.allCases
        }
        return candidates.compactMap { $0.memory(geometry: geometry, threads: sizing.threads) }
            .max { $0.totalBytes < $1.totalBytes } ?? .zero
    }

    /// Backward reads the input and the output gradient only.
    public var outputReLUFusion: OutputReLUFusion { .inPlace }

    public func makeLayer(_ context: LayerBuildContext) throws -> any ExecutableLayer {
        let (_, height, width) = context.wiring.inputShape.chw
        let geometry = self.geometry(batch: context.batchCapacity, height: height, width: width)
        let chooser = ConvolutionBackendChooser(layer: context.name, geometry: geometry, gemm: context.gemm,
                                                needsDataGradient: context.wiring.inputGradient != nil)
        let (kernel, selection) = try chooser.choose(backend ?? context.requestedBackend)
        context.backendSelection = selection
        return ConvolutionLayer(kernel: kernel, wiring: context.wiring, weight: try context.tensor("weight"),
                                bias: context.optionalTensor("bias"), gradWeight: try context.gradient("weight"),
                                gradBias: context.optionalGradient("bias"))
    }
}

/// A convolution running on one of the kernel library's backends.
final class ConvolutionLayer: ExecutableLayer {
    let kernel: any ConvolutionKernel
    private let wiring: LayerWiring
    private let weight: UnsafeMutablePointer<Float>
    private let bias: UnsafeMutablePointer<Float>?
    private let gradWeight: UnsafeMutablePointer<Float>
    private let gradBias: UnsafeMutablePointer<Float>?

    init(kernel: any ConvolutionKernel, wiring: LayerWiring, weight: UnsafeMutablePointer<Float>,
         bias: UnsafeMutablePointer<Float>?, gradWeight: UnsafeMutablePointer<Float>, gradBias: UnsafeMutablePointer<Float>?) {
        self.kernel = kernel; self.wiring = wiring; self.weight = weight; self.bias = bias
        self.gradWeight = gradWeight; self.gradBias = gradBias
        kernel.prepare(weight: weight)
    }

    func forward(batch: Int, training: Bool) {
        kernel.forward(batch: batch, input: wiring.input, weight: weight, bias: bias, output: wiring.output)
    }

    func backward(batch: Int) {
        kernel.backwardWeights(batch: batch, input: wiring.input, gradOutput: wiring.outputGradient,
                               gradWeight: gradWeight, gradBias: gradBias)
        if let gradInput = wiring.inputGradient {
            kernel.backwardData(batch: batch, gradOutput: wiring.outputGradient, weight: weight, gradInput: gradInput)
        }
    }

    func parametersDidChange() { kernel.prepare(weight: weight) }
}

// MARK: - Export

extension Conv2dOperation {
    /// ONNX `Conv` with pads [top, left, bottom, right], so asymmetric `same` padding is exact. A
    /// non-zero padding mode pads first and convolves without padding: `Pad` (reflect; replicate is
    /// `edge`), and for circular the wrapped edges are sliced and concatenated around the input, because
    /// `Pad`'s `wrap` mode needs opset 19.
    public func exportONNX(_ node: ExportNode, to builder: any ONNXGraphBuilder) throws {
        var input = node.input
        var pads = [paddingTop, paddingLeft, paddingBottom, paddingRight]
        if paddingMode != .zeros && pads.contains(where: { $0 > 0 }) {
            let (_, height, width) = node.inputShape.chw
            switch paddingMode {
            case .reflect, .replicate:
                let onnxPads = builder.int64Constant([0, 0, paddingTop, paddingLeft, 0, 0, paddingBottom, paddingRight],
                                                     stem: node.name + "_pads")
                input = builder.apply("Pad", [input, onnxPads], ["mode": .string(paddingMode == .reflect ? "reflect" : "edge")],
                                      stem: node.name + "_padded")
            case .circular:
                input = Self.wrap(input, axis: 2, before: paddingTop, after: paddingBottom, size: height, builder, stem: node.name + "_wrap_h")
                input = Self.wrap(input, axis: 3, before: paddingLeft, after: paddingRight, size: width, builder, stem: node.name + "_wrap_w")
            case .zeros:
                break
            }
            pads = [0, 0, 0, 0]
        }
        var inputs = [input, try builder.parameter("weight", of: node.name)]
        if bias { inputs.append(try builder.parameter("bias", of: node.name)) }
        builder.addNode("Conv", inputs: inputs, outputs: [node.output], attributes: [
            "kernel_shape": .ints([kernel.height, kernel.width]), "strides": .ints([stride.height, stride.width]),
            "pads": .ints(pads), "dilations": .ints([dilation.height, dilation.width]), "group": .int(groups)])
    }

    /// Circular padding along `axis`: the last `before` rows, the input, the first `after` rows.
    private static func wrap(_ input: String, axis: Int, before: Int, after: Int, size: Int, _ builder: any ONNXGraphBuilder,
                             stem: String) -> String {
        guard before + after > 0 else { return input }
        var parts: [String] = []
        if before > 0 { parts.append(builder.slice(input, axis: axis, start: size - before, end: size, stem: stem + "_before")) }
        parts.append(input)
        if after > 0 { parts.append(builder.slice(input, axis: axis, start: 0, end: after, stem: stem + "_after")) }
        return builder.apply("Concat", parts, ["axis": .int(axis)], stem: stem)
    }

    /// True when the padding is PyTorch's `padding='same'` (total D·(K − 1), the odd pixel after).
    private var isSamePadding: Bool {
        let totalHeight = dilation.height * (kernel.height - 1), totalWidth = dilation.width * (kernel.width - 1)
        return stride == Pair2D(square: 1) && paddingTop == totalHeight / 2 && paddingBottom == totalHeight - totalHeight / 2
            && paddingLeft == totalWidth / 2 && paddingRight == totalWidth - totalWidth / 2
    }

    /// `nn.Conv2d`; asymmetric padding is `padding='same'` when it is that, else an `F.pad` in forward.
    public func exportPyTorch(_ node: ExportNode) throws -> PyTorchLayer {
        var forwardInput = node.input
        var padding: String
        var mode = paddingMode.rawValue
        if let symmetric = symmetricPadding {
            padding = PythonLiteral.pair(symmetric)
        } else if isSamePadding {
            padding = "'same'"
        } else {
            padding = "0"
            let padMode = paddingMode == .zeros ? "constant" : paddingMode.rawValue
            forwardInput = "F.pad(\(node.input), (\(paddingLeft), \(paddingRight), \(paddingTop), \(paddingBottom)), mode='\(padMode)')"
            mode = "zeros"
        }
        let module = "nn.Conv2d(\(inChannels), \(outChannels), kernel_size=\(PythonLiteral.pair(kernel)), "
            + "stride=\(PythonLiteral.pair(stride)), padding=\(padding), dilation=\(PythonLiteral.pair(dilation)), "
            + "groups=\(groups), bias=\(PythonLiteral.bool(bias)), padding_mode='\(mode)')"
        return PyTorchLayer(module: module, forward: "\(node.module)(\(forwardInput))")
    }
}
