/// The three ways CNNKernels computes a convolution.
public enum ConvolutionBackendKind: String, CaseIterable, Sendable {
    /// The definition's loops, vectorised over output pixels and threaded over (image, out-channel) blocks.
    case direct
    /// Patches lowered to a matrix (im2col) and multiplied by the weights with GEMM.
    case im2col
    /// The kernel expanded to a doubly block Toeplitz matrix; a batch is one GEMM.
    case toeplitz
}

/// Why a convolution kernel cannot be built.
public enum ConvolutionError: Error, CustomStringConvertible {
    /// The Toeplitz matrix [Cout·OH·OW, Cin·H·W] would need `bytes`, above `limit`.
    case toeplitzTooLarge(bytes: Int, limit: Int)
    /// Sizes that describe no convolution (non-positive sizes, kernel larger than the padded input).
    case invalidGeometry(String)

    public var description: String {
        switch self {
        case .toeplitzTooLarge(let bytes, let limit):
            let mib = { (value: Int) in String(Double(value * 10 / (1 << 20)) / 10) + " MiB" }
            return "the toeplitz convolution backend needs a \(mib(bytes)) matrix for this layer "
                + "(limit \(mib(limit))): its matrix has one row per output value and one column per input "
                + "value of an image; use the im2col backend (or direct) for this layer"
        case .invalidGeometry(let reason):
            return "invalid convolution geometry: \(reason)"
        }
    }
}

/// One convolution layer's compiled kernel; owns every workspace it needs (allocated in makeConvolution).
public protocol ConvolutionKernel: AnyObject {
    var geometry: ConvolutionGeometry { get }
    var kind: ConvolutionBackendKind { get }
    var workspaceBytes: Int { get }
    /// Must be called after every change of the weights before forward/backwardData (toeplitz rebuilds its matrix; others may no-op).
    func prepare(weight: UnsafePointer<Float>)
    /// output[N, Cout, OH, OW] = conv(input[N, Cin, H, W], weight[Cout, Cin, KH, KW]) + bias.
    func forward(batch: Int, input: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                 output: UnsafeMutablePointer<Float>)
    /// Overwrites gradInput[N, Cin, H, W].
    func backwardData(batch: Int, gradOutput: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                      gradInput: UnsafeMutablePointer<Float>)
    /// Overwrites gradWeight (and gradBias when non-nil) with the gradient summed over the batch.
    func backwardWeights(batch: Int, input: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>,
                         gradWeight: UnsafeMutablePointer<Float>, gradBias: UnsafeMutablePointer<Float>?)
}

/// Builds the kernel of `kind` for `geometry`, allocating its workspaces.
/// Throws `invalidGeometry` for impossible sizes and `toeplitzTooLarge` when the Toeplitz matrix exceeds
/// `ToeplitzConvolution.byteLimit`.
public func makeConvolution(_ kind: ConvolutionBackendKind, geometry: ConvolutionGeometry,
                            gemm: GEMM) throws -> any ConvolutionKernel {
    if let problem = geometry.problem { throw ConvolutionError.invalidGeometry(problem) }
    switch kind {
    case .direct: return DirectConvolution(geometry: geometry, gemm: gemm)
    case .im2col:
        // Few output pixels per image: lower a chunk of images into one GEMM (see BatchedIm2ColConvolution).
        if BatchedIm2ColConvolution.prefers(geometry) { return BatchedIm2ColConvolution(geometry: geometry, gemm: gemm) }
        return Im2ColConvolution(geometry: geometry, gemm: gemm)
    case .toeplitz: return try ToeplitzConvolution(geometry: geometry, gemm: gemm)
    }
}
