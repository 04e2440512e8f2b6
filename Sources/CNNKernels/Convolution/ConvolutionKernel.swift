// How the convolution code is laid out, after BLIS's layers (the kernel target's register tiles are in
// ../Target, the GEMM in ../GEMM):
// - Layouts/: how a pass arranges its data, each with one copy-in/copy-out — lanes (16 images per vector,
//   `LaneGrid`, `LaneTranspose`), wide (one padded image, `WideGrid`), stacked (a block of images on one pixel
//   axis, `StackedGrid`), patch panels (im2col straight into the GEMM's packing, `PatchLowering`).
// - Passes/: the loops that run a pass on a layout in the target's tile — `LaneConvolution` and
//   `WideConvolution` (forward and data gradient: `convolve`; weight gradient: `correlate`),
//   `StackedCorrelation` and the shared `CorrelationTile` (weight gradient), Winograd's F(2×2, 3×3)
//   (`WinogradCorrelation` for forward and data gradient, `WinogradWeightGradient`), the per-thread reduction.
// - Backends/: one class per `ConvolutionBackendKind` (+ the padding stage and the pooling epilogue), each
//   choosing its layouts and passes per geometry and naming the choice in `algorithm`.
// This file: the backend kinds, the kernel protocol, and the one table from a kind to its class (`kernelType`).

/// The ways CNNKernels computes a convolution. A backend that cannot run a geometry makes
/// `makeConvolution` throw `ConvolutionError.unsupported`, so a picker iterating `allCases` skips it.
public enum ConvolutionBackendKind: String, CaseIterable, Sendable {
    /// The definition's loops, vectorised over output pixels and threaded over (image, out-channel) blocks.
    case direct
    /// Patches lowered to a matrix (im2col) and multiplied by the weights with GEMM.
    case im2col
    /// The kernel expanded to a doubly block Toeplitz matrix; a batch is one GEMM. No groups.
    case toeplitz
    /// Depthwise layers only (groups = Cin, Cout = m·Cin): per (image, channel) plane, SIMD over output
    /// pixels, no lowering and no GEMM (the layer is memory-bound).
    case depthwise
    /// 3×3 stride-1 layers only: Winograd's F(2×2, 3×3) in all three passes (2.25× fewer multiply-adds): the
    /// forward pass and the data gradient as correlations, the weight gradient by the same algebra run
    /// backwards (`WinogradWeightGradient`).
    case winograd
}

/// Why a convolution kernel cannot be built.
public enum ConvolutionError: Error, CustomStringConvertible {
    /// The Toeplitz matrix [Cout·OH·OW, Cin·H·W] would need `bytes`, above `limit`.
    case toeplitzTooLarge(bytes: Int, limit: Int)
    /// Sizes that describe no convolution (non-positive sizes, kernel larger than the padded input,
    /// channels not divisible by groups, reflect padding not smaller than the input, …).
    case invalidGeometry(String)
    /// A valid geometry this backend does not implement; `reason` names the feature.
    case unsupported(backend: ConvolutionBackendKind, reason: String)

    public var description: String {
        switch self {
        case .toeplitzTooLarge(let bytes, let limit):
            let mib = { (value: Int) in String(Double(value * 10 / (1 << 20)) / 10) + " MiB" }
            return "the toeplitz convolution backend needs a \(mib(bytes)) matrix for this layer "
                + "(limit \(mib(limit))): its matrix has one row per output value and one column per input "
                + "value of an image; use the im2col backend (or direct) for this layer"
        case .invalidGeometry(let reason):
            return "invalid convolution geometry: \(reason)"
        case .unsupported(let backend, let reason):
            // The backends that run every geometry.
            let others = ConvolutionBackendKind.allCases.filter {
                $0 != backend && $0 != .toeplitz && $0 != .depthwise && $0 != .winograd
            }
            return "the \(backend.rawValue) convolution backend does not support \(reason); use "
                + others.map(\.rawValue).joined(separator: " or ")
        }
    }
}

/// Bytes a kernel or a layer allocates beside the plan's activations, gradients and parameters, stated from
/// shapes before anything is allocated so that the plan's memory estimate is an upper bound
/// (`MemoryEstimate`); tests compare each statement with what the allocator saw. Double: sizes a user can
/// write overflow Int before a plan refuses them.
public struct MemoryFootprint: Sendable, Equatable {
    /// Scratch for the passes: per-thread buffers, lowered patches, the padded batch, masks, index tables.
    public var workspaceBytes: Double
    /// What is kept from step to step whatever the passes do: the Toeplitz matrix, Winograd's transformed
    /// weights, packed weights.
    public var persistentBytes: Double

    public init(workspaceBytes: Double = 0, persistentBytes: Double = 0) {
        self.workspaceBytes = workspaceBytes; self.persistentBytes = persistentBytes
    }

    public static let zero = MemoryFootprint()

    public var totalBytes: Double { workspaceBytes + persistentBytes }

    /// Bytes of one buffer of `count` floats from `GEMM.allocateAligned` (at least 16 floats).
    public static func alignedFloats(_ count: Int) -> Double { 4 * Double(max(count, 16)) }

    public static func + (a: MemoryFootprint, b: MemoryFootprint) -> MemoryFootprint {
        MemoryFootprint(workspaceBytes: a.workspaceBytes + b.workspaceBytes, persistentBytes: a.persistentBytes + b.persistentBytes)
    }
}

/// One convolution layer's compiled kernel; owns every workspace it needs (allocated in makeConvolution).
public protocol ConvolutionKernel: AnyObject {
    var geometry: ConvolutionGeometry { get }
    var kind: ConvolutionBackendKind { get }
    /// The whole algorithm behind `kind` for this layer, as the log names it: the backend, the data layout
    /// and the per-pass variants it settled on, and the kernel target of its GEMM (e.g.
    /// `direct/lanes (wide for the rest), weights stacked`, `im2col/batched, avx2 6×16`).
    var algorithm: String { get }
    /// Must be called after every change of the weights before forward/backwardData (toeplitz rebuilds its matrix; others may no-op).
    func prepare(weight: UnsafePointer<Float>)
    /// output[N, Cout, OH, OW] = conv(input[N, Cin, H, W], weight[Cout, Cin/groups, KH, KW]) + bias.
    func forward(batch: Int, input: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                 output: UnsafeMutablePointer<Float>)
    /// Overwrites gradInput[N, Cin, H, W].
    func backwardData(batch: Int, gradOutput: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                      gradInput: UnsafeMutablePointer<Float>)
    /// Overwrites gradWeight (and gradBias when non-nil) with the gradient summed over the batch.
    func backwardWeights(batch: Int, input: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>,
                         gradWeight: UnsafeMutablePointer<Float>, gradBias: UnsafeMutablePointer<Float>?)
}

/// A backend's kernel class (`ConvolutionBackendKind.kernelType`): built from a zero-padded geometry, and
/// stating what it allocates before it is built.
protocol ConvolutionBackend: ConvolutionKernel {
    /// Builds the kernel for a validated, zero-padded `geometry`, allocating its workspaces; throws
    /// `unsupported` (or `toeplitzTooLarge`) when this backend refuses the geometry.
    init(geometry: ConvolutionGeometry, gemm: GEMM) throws
    /// What `init` allocates for `geometry` on a GEMM of `threads` slots, without allocating; nil exactly
    /// when `init` would throw. No default: a backend that forgot its memory would not compile.
    static func memory(_ geometry: ConvolutionGeometry, threads: Int) -> MemoryFootprint?
}

/// Builds the kernel of `kind` for `geometry`, allocating its workspaces.
/// Throws `invalidGeometry` for impossible sizes, `unsupported` when the backend cannot run this geometry
/// (toeplitz with groups, depthwise on a non-depthwise layer) and `toeplitzTooLarge` when the Toeplitz
/// matrix exceeds `ToeplitzConvolution.byteLimit`.
/// Reflect / replicate / circular padding runs the backend on the padded input behind a `PaddedConvolution`.
public func makeConvolution(_ kind: ConvolutionBackendKind, geometry: ConvolutionGeometry,
                            gemm: GEMM) throws -> any ConvolutionKernel {
    if let problem = geometry.problem { throw ConvolutionError.invalidGeometry(problem) }
    if geometry.needsPaddingStage {
        let inner = try makeBackend(kind, geometry: geometry.paddedInputGeometry, gemm: gemm)
        return PaddedConvolution(geometry: geometry, inner: inner, pool: gemm.pool)
    }
    // Zero padding, or a padding mode with nothing to pad (which changes nothing): backends ignore the mode.
    return try makeBackend(kind, geometry: geometry, gemm: gemm)
}

/// The backend itself, for a validated geometry with zero padding.
private func makeBackend(_ kind: ConvolutionBackendKind, geometry: ConvolutionGeometry,
                         gemm: GEMM) throws -> any ConvolutionKernel {
    try kind.kernelType(for: geometry).init(geometry: geometry, gemm: gemm)
}

extension ConvolutionBackendKind {
    /// The class that runs this backend for a zero-padded `geometry`: the one place a backend maps to its code.
    func kernelType(for geometry: ConvolutionGeometry) -> any ConvolutionBackend.Type {
        switch self {
        case .direct: return DirectConvolution.self
        // Few output pixels per image: lower a chunk of images into one GEMM (see BatchedIm2ColConvolution).
        case .im2col: return BatchedIm2ColConvolution.prefers(geometry) ? BatchedIm2ColConvolution.self : Im2ColConvolution.self
        case .toeplitz: return ToeplitzConvolution.self
        case .depthwise: return DepthwiseConvolution.self
        case .winograd: return WinogradConvolution.self
        }
    }

    /// What `makeConvolution(self, geometry:gemm:)` allocates on a GEMM of `threads` slots (the padding stage
    /// included), without allocating; nil when it would throw.
    public func memory(geometry: ConvolutionGeometry, threads: Int) -> MemoryFootprint? {
        if geometry.problem != nil { return nil }
        if geometry.needsPaddingStage {
            let padded = geometry.paddedInputGeometry
            return kernelType(for: padded).memory(padded, threads: threads).map { $0 + PaddedConvolution.stageMemory(geometry) }
        }
        return kernelType(for: geometry).memory(geometry, threads: threads)
    }
}
