/// What a shape rule sees of one layer: its name, where it is written, its inputs' shapes, and a
/// place to report why it cannot be built (every message located at the layer or the offending key).
public struct ShapeContext {
    /// One input of the layer.
    public struct Input: Sendable {
        public var name: String
        public var shape: TensorShape
        /// ` (32×7×7 flattened)` when the input is an implicit flatten, else empty; for messages.
        public var origin: String
    }

    /// The layer's name (`cnn1`), which starts every message.
    public let name: String
    public let location: SourceLocation?
    /// At least one; exactly one unless the kind is a merge.
    public let inputs: [Input]
    let arguments: LayerArguments
    let diagnostics: DiagnosticCollector

    /// Largest activation (elements per image) accepted; keeps every later product far from overflow.
    public static let maximumElements = 1 << 40

    init(name: String, location: SourceLocation?, inputs: [Input], arguments: LayerArguments, diagnostics: DiagnosticCollector) {
        self.name = name; self.location = location; self.inputs = inputs; self.arguments = arguments
        self.diagnostics = diagnostics
    }

    /// The first input (the only one for single-input kinds).
    public var input: Input { inputs[0] }

    /// Reports `message` (prefixed with the layer name) at `key`'s value when given and written, else at the layer.
    public func error(_ message: String, key: String? = nil, hint: String? = nil) {
        let at = key.flatMap { arguments.location(of: $0) } ?? location
        diagnostics.error("\(name): \(message)", at: at, hint: hint)
    }

    /// The input's channels, height and width, or nil after explaining that `kind` needs a feature map.
    public func featureMap() -> (channels: Int, height: Int, width: Int)? {
        if case .image(let c, let h, let w) = input.shape { return (c, h, w) }
        let kind = arguments.definition.name
        error("\(kind) needs a feature map (channels×height×width), but \(input.name) gives a vector of \(input.shape.elementCount) features",
              hint: "put \(kind) layers before flatten and linear")
        return nil
    }

    /// Checks a channel count written in the file (`in:`, `channels:`) against the one the input gives.
    public func checkWritten(_ key: String, equals actual: Int, what: String) -> Bool {
        guard let written = arguments.integer(key), arguments.isWritten(key), written != actual else { return true }
        let plural = actual == 1 ? "" : "s"
        let shapeNote = !input.origin.isEmpty ? input.origin : input.shape.dimensions.count > 1 ? " (shape \(input.shape))" : ""
        let spelled = arguments.spelling(of: key)
        error("\(spelled): \(written) is written, but \(input.name) gives \(actual) \(what)\(plural)\(shapeNote)",
              key: key, hint: "write \(spelled): \(actual), or leave '\(spelled)' out: it is inferred")
        return false
    }

    /// The product of `factors`, or nil after reporting that the layer's size cannot be computed.
    public func product(_ factors: Int..., limit: Int = Int.max) -> Int? {
        var result = 1
        for factor in factors {
            let (value, overflow) = result.multipliedReportingOverflow(by: factor)
            guard !overflow, value <= limit, factor >= 0 else {
                error("the parameter or MAC count is too large to compute", hint: "check the channel counts, kernel and input size")
                return nil
            }
            result = value
        }
        return result
    }

    /// `shape`, or nil after reporting that it holds more than `maximumElements` values per image.
    public func checkedShape(_ shape: TensorShape) -> TensorShape? {
        var count = 1
        for dimension in shape.dimensions {
            let (value, overflow) = count.multipliedReportingOverflow(by: dimension)
            guard !overflow, value <= Self.maximumElements else {
                error("the output \(shape.dimensions.map(String.init).joined(separator: "×")) is too large (more than 2^40 values per image)",
                      hint: "check the channel counts and input size")
                return nil
            }
            count = value
        }
        return shape
    }

    /// Output height and width of a sliding window (convolution or pooling), or nil after an error that
    /// shows the arithmetic when the output would be empty. `fits` says what to suggest instead.
    public func windowOutput(height: Int, width: Int, window: SlidingWindow, suggestion: String) -> (height: Int, width: Int)? {
        let oh = window.height.outputSize(input: height)
        let ow = window.width.outputSize(input: width)
        if oh >= 1 && ow >= 1 { return (oh, ow) }
        let square = height == width && window.height == window.width
        var arithmetic: [String] = []
        if oh < 1 { arithmetic.append((square ? "" : "height ") + window.height.explanation(input: height)) }
        if ow < 1 && !square { arithmetic.append("width " + window.width.explanation(input: width)) }
        error("input \(height)×\(width), \(window.description) → " + arithmetic.joined(separator: ", ") + ": the output would be empty",
              hint: suggestion)
        return nil
    }
}

/// A sliding window along both axes.
public struct SlidingWindow: Sendable, Equatable, CustomStringConvertible {
    public var height: OutputSizeFormula.Axis
    public var width: OutputSizeFormula.Axis

    public init(height: OutputSizeFormula.Axis, width: OutputSizeFormula.Axis) { self.height = height; self.width = width }

    /// `kernel 5, padding 0, stride 1` (with dilation only when it is not 1).
    public var description: String {
        func text(_ a: Int, _ b: Int) -> String { a == b ? "\(a)" : "\(a)×\(b)" }
        func padding(_ axis: OutputSizeFormula.Axis) -> String {
            axis.paddingBefore == axis.paddingAfter ? "\(axis.paddingBefore)" : "\(axis.paddingBefore)+\(axis.paddingAfter)"
        }
        let paddings = padding(height) == padding(width) ? padding(height) : "\(padding(height))×\(padding(width))"
        var parts = ["kernel \(text(height.kernel, width.kernel))", "padding \(paddings)", "stride \(text(height.stride, width.stride))"]
        if height.dilation != 1 || width.dilation != 1 { parts.append("dilation \(text(height.dilation, width.dilation))") }
        return parts.joined(separator: ", ")
    }
}
