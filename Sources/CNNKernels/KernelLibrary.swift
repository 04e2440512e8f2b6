/// CNNKernels: SIMD Float32 kernels for CNN training over contiguous NCHW buffers.
///
/// The library knows nothing about YAML, models or files: every function takes raw buffers,
/// sizes and caller-provided workspaces.
public enum KernelLibrary {
    /// Version of the kernel library, recorded in benchmark output.
    public static let version = "0.1.0"
}
