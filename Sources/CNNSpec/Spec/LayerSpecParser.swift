/// One hyperparameter as written: canonical key, and the value node.
struct WrittenParameter {
    var key: String
    var keyLocation: SourceLocation
    var value: YAMLNode
}

/// Turns a layer's written hyperparameters into a `LayerSpec`, reporting unknown keys, wrong types,
/// missing fields and out-of-range values.
struct LayerSpecParser {
    let diagnostics: DiagnosticCollector

    func parse(kind: LayerKind, name: String, parameters: [WrittenParameter], at location: SourceLocation) -> LayerSpec? {
        let reader = ValueReader(diagnostics: diagnostics, owner: name)
        var values: [String: YAMLNode] = [:]
        var valid = true
        for parameter in parameters {
            if kind.parameterKeys.contains(parameter.key) {
                values[parameter.key] = parameter.value
                continue
            }
            valid = false
            if let why = unsupportedPyTorchKeys[parameter.key] {
                diagnostics.error("\(name): '\(parameter.key)' is not supported: \(why)", at: parameter.keyLocation)
                continue
            }
            let candidates = kind.parameterKeys + kind.keyAliases.keys.sorted() + ["name", "from"]
            let suggestion = DidYouMean.suggestion(for: parameter.key, among: candidates)
            let valid = kind.parameterKeys.isEmpty ? "\(kind.rawValue) takes only name and from"
                : "\(kind.rawValue) takes \(kind.parameterKeys.joined(separator: ", ")), name, from"
            diagnostics.error("\(name): unknown key '\(parameter.key)' for \(kind.rawValue)", at: parameter.keyLocation,
                              hint: suggestion.map { "did you mean '\($0)'? (\(valid))" } ?? valid)
        }

        func required(_ key: String, example: String) -> YAMLNode? {
            if let node = values[key] { return node }
            diagnostics.error("\(name): \(kind.rawValue) needs '\(key)'", at: location, hint: "for example \(example)")
            valid = false
            return nil
        }
        func check<T>(_ value: T?) -> T? {
            if value == nil { valid = false }
            return value
        }

        let spec: LayerSpec?
        switch kind {
        case .conv2d:
            let example = "- conv: {out: 16, kernel: 5, padding: same}"
            let out = required("out", example: example).flatMap { check(reader.integer($0, key: "out", minimum: 1)) }
            let writtenIn = values["in"].flatMap { check(reader.integer($0, key: "in", minimum: 1)) }
            let kernel = required("kernel", example: example).flatMap { check(reader.pair($0, key: "kernel", minimum: 1)) }
            let stride = values["stride"].map { check(reader.pair($0, key: "stride", minimum: 1)) } ?? Pair2D(square: 1)
            let padding = values["padding"].map { check(paddingSpec($0, reader: reader)) } ?? .explicit(Pair2D(square: 0))
            let bias = values["bias"].map { check(reader.bool($0, key: "bias")) } ?? true
            let backend = values["backend"].map {
                check(reader.string($0, key: "backend", among: ["auto", "direct", "im2col", "toeplitz"]))
            } ?? nil
            if let out, let kernel, let stride, let padding, let bias {
                spec = .conv2d(out: out, writtenIn: writtenIn, kernel: kernel, stride: stride, padding: padding,
                               bias: bias, backend: backend)
            } else { spec = nil }
        case .maxpool, .avgpool:
            let example = "- \(kind.rawValue): 2   or   - \(kind.rawValue): {kernel: 3, stride: 2, padding: 1}"
            let kernel = required("kernel", example: example).flatMap { check(reader.pair($0, key: "kernel", minimum: 1)) }
            let stride = values["stride"].map { check(reader.pair($0, key: "stride", minimum: 1)) } ?? kernel
            let padding = values["padding"].map { check(reader.pair($0, key: "padding", minimum: 0)) } ?? Pair2D(square: 0)
            let countIncludePad = values["count_include_pad"].map { check(reader.bool($0, key: "count_include_pad")) } ?? true
            if let kernel, let padding, padding.height > kernel.height / 2 || padding.width > kernel.width / 2 {
                diagnostics.error("\(name): padding \(padding) is more than half the kernel \(kernel)",
                                  at: values["padding"]?.location ?? location,
                                  hint: "PyTorch allows pooling padding of at most kernel/2 (\(kernel.height / 2) here)")
                valid = false
            }
            if valid, let kernel, let stride, let padding, let countIncludePad {
                spec = kind == .maxpool ? .maxPool2d(kernel: kernel, stride: stride, padding: padding)
                    : .avgPool2d(kernel: kernel, stride: stride, padding: padding, countIncludePad: countIncludePad)
            } else { spec = nil }
        case .globalAvgpool: spec = .globalAvgPool2d
        case .relu: spec = .relu
        case .sigmoid: spec = .sigmoid
        case .tanh: spec = .tanh
        case .flatten: spec = .flatten
        case .add: spec = .add
        case .concat: spec = .concat
        case .leakyRelu:
            let slope = values["negative_slope"].map {
                check(reader.number($0, key: "negative_slope", in: -1_000...1_000, what: "a number between -1000 and 1000"))
            } ?? 0.01
            spec = slope.map { .leakyRelu(negativeSlope: $0) }
        case .linear:
            let out = required("out", example: "- linear: 10   or   - linear: {out: 10, in: 1568}")
                .flatMap { check(reader.integer($0, key: "out", minimum: 1)) }
            let writtenIn = values["in"].flatMap { check(reader.integer($0, key: "in", minimum: 1)) }
            let bias = values["bias"].map { check(reader.bool($0, key: "bias")) } ?? true
            if let out, let bias { spec = .linear(out: out, writtenIn: writtenIn, bias: bias) } else { spec = nil }
        case .dropout, .dropout2d:
            let p = values["p"].map {
                check(reader.number($0, key: "p", in: 0...1, what: "a probability between 0 and 1"))
            } ?? 0.5
            spec = p.map { kind == .dropout ? .dropout(p: $0) : .dropout2d(p: $0) }
        case .batchnorm2d:
            let channels = values["channels"].flatMap { check(reader.integer($0, key: "channels", minimum: 1)) }
            let eps = values["eps"].map { check(reader.number($0, key: "eps", in: 1e-30...1, what: "a small positive number")) } ?? 1e-5
            let momentum = values["momentum"].map {
                check(reader.number($0, key: "momentum", in: 0...1, what: "between 0 and 1"))
            } ?? 0.1
            if let eps, let momentum { spec = .batchNorm2d(writtenChannels: channels, eps: eps, momentum: momentum) } else { spec = nil }
        }
        return valid ? spec : nil
    }

    private func paddingSpec(_ node: YAMLNode, reader: ValueReader) -> PaddingSpec? {
        if case .scalar(let text, _, _) = node, node.intValue == nil {
            switch text.lowercased() {
            case "same": return .same
            case "valid": return .valid
            default:
                let suggestion = DidYouMean.suggestion(for: text, among: ["same", "valid"])
                diagnostics.error("\(reader.owner): padding must be a number, [height, width], same or valid, got '\(text)'",
                                  at: node.location, hint: suggestion.map { "did you mean '\($0)'?" })
                return nil
            }
        }
        return reader.pair(node, key: "padding", minimum: 0).map { .explicit($0) }
    }
}
