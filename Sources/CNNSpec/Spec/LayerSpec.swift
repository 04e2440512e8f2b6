/// Padding as written in a model file; `same` and `valid` are resolved once the kernel is known.
public enum PaddingSpec: Hashable, Sendable {
    case explicit(Pair2D)
    /// P = (K − 1)/2 on each side; only for odd kernels and stride 1.
    case same
    /// No padding.
    case valid
}

/// A layer's hyperparameters as written, before the input shape is known.
public enum LayerSpec: Hashable, Sendable {
    case conv2d(out: Int, writtenIn: Int?, kernel: Pair2D, stride: Pair2D, padding: PaddingSpec, bias: Bool, backend: String?)
    case maxPool2d(kernel: Pair2D, stride: Pair2D, padding: Pair2D)
    case avgPool2d(kernel: Pair2D, stride: Pair2D, padding: Pair2D, countIncludePad: Bool)
    /// Average over the whole feature map (torchvision's `AdaptiveAvgPool2d(1)`).
    case globalAvgPool2d
    case relu
    case leakyRelu(negativeSlope: Float)
    case sigmoid
    case tanh
    case flatten
    case linear(out: Int, writtenIn: Int?, bias: Bool)
    case dropout(p: Float)
    case dropout2d(p: Float)
    case batchNorm2d(writtenChannels: Int?, eps: Float, momentum: Float)
    case add
    case concat
}

/// A named layer with its inputs resolved to indices of earlier layers (index 0 is the network input).
public struct ResolvedLayer: Sendable {
    public var name: String
    /// Nil when the layer's hyperparameters had errors; its shape is then unknown and not reported again.
    public var spec: LayerSpec?
    public var inputs: [Int]
    public var location: SourceLocation?

    public init(name: String, spec: LayerSpec?, inputs: [Int], location: SourceLocation?) {
        self.name = name; self.spec = spec; self.inputs = inputs; self.location = location
    }
}
