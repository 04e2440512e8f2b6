/// Computes every layer's output shape, parameter count and MACs, and explains each shape that does not work.
struct ShapeInference {
    let diagnostics: DiagnosticCollector

    /// Largest activation (elements per image) accepted; keeps every later product far from overflow.
    static let maximumElements = 1 << 40
    /// Largest model-wide total of parameters, MACs or activation elements; totals in bytes stay far below `Int.max`.
    static let maximumTotal = 1 << 56

    /// What one layer turns into: its op, shape and costs.
    private struct Inferred {
        var op: LayerOp
        var shape: TensorShape
        var parameters: Int
        var macs: Int
    }

    /// The graph, or nil when a shape could not be inferred (the reasons are in `diagnostics`).
    /// A `linear` reading a feature map gets an implicit `flatten` node in front of it.
    func infer(modelName: String, input: TensorShape?, inputLocation: SourceLocation?, layers: [ResolvedLayer]) -> ModelGraph? {
        guard let input else { return nil }
        var nodes = [GraphNode(name: "input", op: .input, inputs: [], outputShape: input, parameterCount: 0, macs: 0,
                               location: inputLocation)]
        var usedNames = Set(layers.map(\.name)).union(["input"])
        // nodeOf[i]: node index of layer i (0 = input), nil when its shape is unknown.
        var nodeOf: [Int?] = [0]
        var complete = true
        var totals = (parameters: 0, macs: 0, elements: input.elementCount)
        var reportedTotal = false
        for layer in layers {
            let inputNodes = layer.inputs.map { $0 < nodeOf.count ? nodeOf[$0] : nil }
            guard let spec = layer.spec, !inputNodes.contains(where: { $0 == nil }) else {
                nodeOf.append(nil)
                complete = false
                continue
            }
            var sources = inputNodes.compactMap { $0 }
            if case .linear = spec, sources.count == 1, case .image = nodes[sources[0]].outputShape {
                var flattenName = "flatten_\(layer.name)"
                while usedNames.contains(flattenName) { flattenName += "_" }
                usedNames.insert(flattenName)
                let flatShape = TensorShape.vector(features: nodes[sources[0]].outputShape.elementCount)
                nodes.append(GraphNode(name: flattenName, op: .flatten, inputs: sources, outputShape: flatShape,
                                       parameterCount: 0, macs: 0, location: layer.location))
                sources = [nodes.count - 1]
            }
            let named = sources.map { source in
                let node = nodes[source]
                let origin = node.op == .flatten && !node.inputs.isEmpty ? " (\(nodes[node.inputs[0]].outputShape) flattened)" : ""
                return (name: node.name, shape: node.outputShape, origin: origin)
            }
            guard let result = infer(spec, layer: layer, inputs: named) else {
                nodeOf.append(nil)
                complete = false
                continue
            }
            guard let parameters = CheckedArithmetic.sum(totals.parameters, result.parameters),
                  let macs = CheckedArithmetic.sum(totals.macs, result.macs),
                  let elements = CheckedArithmetic.sum(totals.elements, 2 * result.shape.elementCount),
                  max(parameters, macs, elements) <= Self.maximumTotal else {
                if !reportedTotal {
                    diagnostics.error("\(layer.name): the model's total parameters, MACs or activations exceed 2^56", at: layer.location,
                                      hint: "check the channel counts, feature sizes and input size")
                }
                reportedTotal = true
                nodeOf.append(nil)
                complete = false
                continue
            }
            totals = (parameters, macs, elements)
            nodes.append(GraphNode(name: layer.name, op: result.op, inputs: sources, outputShape: result.shape,
                                   parameterCount: result.parameters, macs: result.macs, location: layer.location))
            nodeOf.append(nodes.count - 1)
        }
        return complete ? ModelGraph(name: modelName, nodes: nodes) : nil
    }

    private func infer(_ spec: LayerSpec, layer: ResolvedLayer, inputs: [(name: String, shape: TensorShape, origin: String)]) -> Inferred? {
        let name = layer.name
        let at = layer.location
        // invariant: the resolver gives single-input layers exactly one input and merges at least two.
        guard let first = inputs.first else { return nil }
        let shape = first.shape
        func needImage(_ what: String) -> (Int, Int, Int)? {
            if case .image(let c, let h, let w) = shape { return (c, h, w) }
            diagnostics.error("\(name): \(what) needs a feature map (channels×height×width), but \(first.name) gives a vector of \(shape.elementCount) features",
                              at: at, hint: "put \(what) layers before flatten and linear")
            return nil
        }
        switch spec {
        case .conv2d(let out, let writtenIn, let kernel, let stride, let paddingSpec, let bias, let backend):
            guard let (c, h, w) = needImage("conv2d") else { return nil }
            if let writtenIn, writtenIn != c {
                diagnostics.error("\(name): in: \(writtenIn) is written, but \(first.name) gives \(c) channel\(c == 1 ? "" : "s") (shape \(shape))",
                                  at: at, hint: "write in: \(c), or leave 'in' out: it is inferred")
                return nil
            }
            guard let padding = resolvePadding(paddingSpec, kernel: kernel, stride: stride, name: name, at: at),
                  let (oh, ow) = windowOutput(name: name, what: "conv2d", height: h, width: w, kernel: kernel, padding: padding,
                                              stride: stride, at: at)
            else { return nil }
            let outShape = TensorShape.image(channels: out, height: oh, width: ow)
            guard checkSize(outShape, name: name, at: at),
                  let weights = CheckedArithmetic.product(out, c, kernel.height, kernel.width),
                  let perOutput = CheckedArithmetic.product(c, kernel.height, kernel.width),
                  let macs = CheckedArithmetic.product(outShape.elementCount, perOutput)
            else { return tooLarge(name, at: at) }
            let op = ConvolutionOp(inChannels: c, outChannels: out, kernel: kernel, stride: stride, padding: padding, bias: bias,
                                   backend: backend)
            return Inferred(op: .conv2d(op), shape: outShape, parameters: weights + (bias ? out : 0), macs: macs)
        case .maxPool2d(let kernel, let stride, let padding), .avgPool2d(let kernel, let stride, let padding, _):
            let isMax: Bool
            if case .maxPool2d = spec { isMax = true } else { isMax = false }
            let kind = isMax ? "maxpool" : "avgpool"
            guard let (c, h, w) = needImage(kind),
                  let (oh, ow) = windowOutput(name: name, what: kind, height: h, width: w, kernel: kernel, padding: padding,
                                              stride: stride, at: at)
            else { return nil }
            var countIncludePad = true
            if case .avgPool2d(_, _, _, let include) = spec { countIncludePad = include }
            let pooling = PoolingOp(kernel: kernel, stride: stride, padding: padding, countIncludePad: countIncludePad)
            return Inferred(op: isMax ? .maxPool2d(pooling) : .avgPool2d(pooling),
                            shape: .image(channels: c, height: oh, width: ow), parameters: 0, macs: 0)
        case .globalAvgPool2d:
            guard let (c, h, w) = needImage("global_avgpool") else { return nil }
            let pooling = PoolingOp(kernel: Pair2D(h, w), stride: Pair2D(h, w), padding: Pair2D(square: 0))
            return Inferred(op: .avgPool2d(pooling), shape: .image(channels: c, height: 1, width: 1), parameters: 0, macs: 0)
        case .relu: return Inferred(op: .relu, shape: shape, parameters: 0, macs: 0)
        case .leakyRelu(let slope): return Inferred(op: .leakyRelu(negativeSlope: slope), shape: shape, parameters: 0, macs: 0)
        case .sigmoid: return Inferred(op: .sigmoid, shape: shape, parameters: 0, macs: 0)
        case .tanh: return Inferred(op: .tanh, shape: shape, parameters: 0, macs: 0)
        case .dropout(let p): return Inferred(op: .dropout(p: p), shape: shape, parameters: 0, macs: 0)
        case .dropout2d(let p):
            guard needImage("dropout2d") != nil else { return nil }
            return Inferred(op: .dropout2d(p: p), shape: shape, parameters: 0, macs: 0)
        case .flatten:
            return Inferred(op: .flatten, shape: .vector(features: shape.elementCount), parameters: 0, macs: 0)
        case .linear(let out, let writtenIn, let bias):
            let features = shape.elementCount
            if let writtenIn, writtenIn != features {
                diagnostics.error("\(name): in: \(writtenIn) is written, but \(first.name) gives \(features) features\(first.origin)",
                                  at: at, hint: "write in: \(features), or leave 'in' out: it is inferred")
                return nil
            }
            guard let weights = CheckedArithmetic.product(features, out, limit: Self.maximumElements) else { return tooLarge(name, at: at) }
            return Inferred(op: .linear(inFeatures: features, outFeatures: out, bias: bias), shape: .vector(features: out),
                            parameters: weights + (bias ? out : 0), macs: weights)
        case .batchNorm2d(let writtenChannels, let eps, let momentum):
            guard let (c, _, _) = needImage("batchnorm2d") else { return nil }
            if let writtenChannels, writtenChannels != c {
                diagnostics.error("\(name): channels: \(writtenChannels) is written, but \(first.name) gives \(c) channels (shape \(shape))",
                                  at: at, hint: "write channels: \(c), or leave it out: it is inferred")
                return nil
            }
            return Inferred(op: .batchNorm2d(channels: c, eps: eps, momentum: momentum), shape: shape, parameters: 2 * c, macs: 0)
        case .add:
            if inputs.contains(where: { $0.shape != shape }) {
                let listed = inputs.map { "\($0.name) gives \($0.shape)" }.joined(separator: ", ")
                diagnostics.error("\(name): add needs inputs of the same shape, but \(listed)", at: at,
                                  hint: "on a residual shortcut, a 1×1 conv with the same stride and channels (a projection) makes them match")
                return nil
            }
            return Inferred(op: .add, shape: shape, parameters: 0, macs: 0)
        case .concat:
            var channels = 0
            for input in inputs {
                guard case .image(let c, let h, let w) = input.shape, case .image(_, let h0, let w0) = shape, h == h0, w == w0 else {
                    let listed = inputs.map { "\($0.name) gives \($0.shape)" }.joined(separator: ", ")
                    diagnostics.error("\(name): concat joins feature maps of the same height and width along channels, but \(listed)",
                                      at: at, hint: "give every branch the same padding and stride so their height and width agree")
                    return nil
                }
                channels += c
            }
            guard case .image(_, let h, let w) = shape else { return nil }  // invariant: checked in the loop above
            let outShape = TensorShape.image(channels: channels, height: h, width: w)
            guard checkSize(outShape, name: name, at: at) else { return nil }
            return Inferred(op: .concat, shape: outShape, parameters: 0, macs: 0)
        }
    }

    private func resolvePadding(_ spec: PaddingSpec, kernel: Pair2D, stride: Pair2D, name: String, at: SourceLocation?) -> Pair2D? {
        switch spec {
        case .explicit(let padding): return padding
        case .valid: return Pair2D(square: 0)
        case .same:
            if kernel.height % 2 == 0 || kernel.width % 2 == 0 {
                diagnostics.error("\(name): padding: same needs an odd kernel, got kernel \(kernel)", at: at,
                                  hint: "same padding is P = (K − 1)/2 on each side, a whole number only for odd K; use kernel \(kernel.height + 1) or write padding explicitly")
                return nil
            }
            if stride.height != 1 || stride.width != 1 {
                diagnostics.error("\(name): padding: same needs stride 1, got stride \(stride)", at: at,
                                  hint: "with stride \(stride) the output cannot keep the input size; write padding: \((kernel.height - 1) / 2) explicitly")
                return nil
            }
            return Pair2D((kernel.height - 1) / 2, (kernel.width - 1) / 2)
        }
    }

    /// Output height and width of a sliding window, or nil (with an error that shows the arithmetic) when empty.
    private func windowOutput(name: String, what: String, height: Int, width: Int, kernel: Pair2D, padding: Pair2D, stride: Pair2D,
                              at: SourceLocation?) -> (Int, Int)? {
        let oh = OutputSizeFormula.outputSize(input: height, kernel: kernel.height, padding: padding.height, stride: stride.height)
        let ow = OutputSizeFormula.outputSize(input: width, kernel: kernel.width, padding: padding.width, stride: stride.width)
        if oh >= 1 && ow >= 1 { return (oh, ow) }
        let square = height == width && kernel.height == kernel.width && padding.height == padding.width && stride.height == stride.width
        var arithmetic: [String] = []
        if oh < 1 {
            let text = OutputSizeFormula.explanation(input: height, kernel: kernel.height, padding: padding.height, stride: stride.height)
            arithmetic.append(square ? text : "height " + text)
        }
        if ow < 1 && !square {
            arithmetic.append("width " + OutputSizeFormula.explanation(input: width, kernel: kernel.width, padding: padding.width,
                                                                       stride: stride.width))
        }
        let inputText = height == width ? "\(height)×\(width)" : "\(height)×\(width)"
        let message = "\(name): input \(inputText), kernel \(kernel), padding \(padding), stride \(stride) → "
            + arithmetic.joined(separator: ", ") + ": the output would be empty"
        let smallest = min(height + 2 * padding.height, width + 2 * padding.width)
        let neededPadding = max((kernel.height - height + 1) / 2, (kernel.width - width + 1) / 2)
        let hint: String
        if what == "conv2d" {
            hint = "use a smaller kernel (at most \(smallest) here), add padding (padding: \(max(neededPadding, padding.height)) or more), or remove a pooling layer before it"
        } else {
            hint = "use a smaller \(what) window (at most \(smallest) here), or remove a pooling layer or strided convolution before it"
        }
        diagnostics.error(message, at: at, hint: hint)
        return nil
    }

    private func checkSize(_ shape: TensorShape, name: String, at: SourceLocation?) -> Bool {
        let dims = shape.dimensions
        guard let _ = dims.count == 3 ? CheckedArithmetic.product(dims[0], dims[1], dims[2], limit: Self.maximumElements)
                : CheckedArithmetic.product(dims[0], limit: Self.maximumElements) else {
            diagnostics.error("\(name): the output \(dims.map(String.init).joined(separator: "×")) is too large (more than 2^40 values per image)",
                              at: at, hint: "check the channel counts and input size")
            return false
        }
        return true
    }

    private func tooLarge(_ name: String, at: SourceLocation?) -> Inferred? {
        diagnostics.error("\(name): the parameter or MAC count is too large to compute", at: at,
                          hint: "check the channel counts, kernel and input size")
        return nil
    }
}
