/// A pair of values for the two spatial axes (height, width).
public struct Pair2D: Hashable, Sendable, CustomStringConvertible {
    public var height: Int
    public var width: Int
    public init(_ height: Int, _ width: Int) { self.height = height; self.width = width }
    public init(square: Int) { self.height = square; self.width = square }
    /// `5` when square, `3×5` otherwise.
    public var description: String { height == width ? "\(height)" : "\(height)×\(width)" }
}

/// A 2-D convolution with every padding already resolved to explicit numbers.
public struct ConvolutionOp: Hashable, Sendable {
    public var inChannels: Int
    public var outChannels: Int
    public var kernel: Pair2D
    public var stride: Pair2D
    public var padding: Pair2D
    public var bias: Bool
    /// The backend the spec asked for (`direct`, `im2col`, `toeplitz`, `auto`), if any.
    public var backend: String?

    public init(inChannels: Int, outChannels: Int, kernel: Pair2D, stride: Pair2D, padding: Pair2D,
                bias: Bool, backend: String? = nil) {
        self.inChannels = inChannels; self.outChannels = outChannels; self.kernel = kernel
        self.stride = stride; self.padding = padding; self.bias = bias; self.backend = backend
    }
}

/// Max or average pooling, PyTorch floor mode.
public struct PoolingOp: Hashable, Sendable {
    public var kernel: Pair2D
    public var stride: Pair2D
    public var padding: Pair2D
    /// Average pooling only: whether zero padding counts in the divisor (PyTorch's default true).
    public var countIncludePad: Bool

    public init(kernel: Pair2D, stride: Pair2D, padding: Pair2D, countIncludePad: Bool = true) {
        self.kernel = kernel; self.stride = stride; self.padding = padding; self.countIncludePad = countIncludePad
    }
}

/// What a graph node computes. Shapes live on the node; the op holds only hyperparameters.
public enum LayerOp: Hashable, Sendable {
    /// The network input (always node 0).
    case input
    case conv2d(ConvolutionOp)
    case maxPool2d(PoolingOp)
    case avgPool2d(PoolingOp)
    case relu
    case leakyRelu(negativeSlope: Float)
    case sigmoid
    case tanh
    /// Collapses C×H×W to a vector, row-major as `torch.flatten(x, 1)`.
    case flatten
    case linear(inFeatures: Int, outFeatures: Int, bias: Bool)
    /// Element-wise dropout with drop probability `p` (training only).
    case dropout(p: Float)
    /// Whole-channel dropout with drop probability `p` (training only).
    case dropout2d(p: Float)
    /// Batch normalisation over channels, PyTorch defaults eps 1e-5, momentum 0.1.
    case batchNorm2d(channels: Int, eps: Float, momentum: Float)
    /// Element-wise sum of all inputs (same shapes), e.g. a residual connection.
    case add
    /// Concatenation of all inputs along channels (same height and width), e.g. an Inception block.
    case concat

    /// The short kind name used in tables and JSON (`conv2d`, `maxpool`, …).
    public var kindName: String {
        switch self {
        case .input: return "input"
        case .conv2d: return "conv2d"
        case .maxPool2d: return "maxpool"
        case .avgPool2d: return "avgpool"
        case .relu: return "relu"
        case .leakyRelu: return "leaky_relu"
        case .sigmoid: return "sigmoid"
        case .tanh: return "tanh"
        case .flatten: return "flatten"
        case .linear: return "linear"
        case .dropout: return "dropout"
        case .dropout2d: return "dropout2d"
        case .batchNorm2d: return "batchnorm2d"
        case .add: return "add"
        case .concat: return "concat"
        }
    }
}
