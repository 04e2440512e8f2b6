import CKernelTarget

/// The machine's fused multiply-add peak: the host's widest vectors (zmm with AVX-512, ymm with AVX2,
/// q registers on NEON) in enough independent chains to cover FMA latency × FMA ports, run by a C loop
/// (`cnnspec_fma_peak_run`) that the optimizer cannot reshape. Whole-step, GEMM and micro-kernel figures
/// are quoted as fractions of it.
public enum FMAPeak {
    /// Steps of the chain loop per measured run.
    static let stepsPerRun = 1 << 22

    /// The instruction set the peak is measured with: the CPU's widest, whatever `CNNSPEC_KERNELS` says.
    public static var isa: KernelTarget { KernelTarget.detected }

    /// Independent FMA chains per thread.
    public static var chains: Int { Int(cnnspec_fma_peak_chains(isaCode)) }

    /// Floating-point operations of one `run` on one thread (2 per multiply-add).
    public static var flopsPerRun: Double { Double(cnnspec_fma_peak_flops_per_step(isaCode)) * Double(stepsPerRun) }

    /// Runs the chains on the calling thread; returns a value that depends on every chain.
    @discardableResult
    public static func run() -> Float { cnnspec_fma_peak_run(isaCode, stepsPerRun) }

    private static var isaCode: Int32 {
        switch KernelTarget.detected {
        case .avx512: CNNSPEC_ISA_AVX512F
        case .avx2: CNNSPEC_ISA_AVX2_FMA
        case .neon: CNNSPEC_ISA_NEON
        case .generic: CNNSPEC_ISA_GENERIC
        }
    }
}

/// A target's GEMM micro-kernel on L1-resident panels: no cache miss or packing enters the figure, so its
/// rate against `FMAPeak` says how well the register tile fits the core.
public struct MicroKernelRate {
    /// Depth of the panels: (mr + nr)·depth floats stay well inside a 32 KiB L1 on every target.
    static let depth = 128
    /// Micro-kernel calls per measured run.
    static let callsPerRun = 8192

    public let target: KernelTarget

    public init(target: KernelTarget) { self.target = target }

    /// Floating-point operations of one `run` on one thread (2 per multiply-add).
    public var flopsPerRun: Double {
        let tile = target.gemmTile
        return Double(2 * tile.rows * tile.columns * MicroKernelRate.depth * MicroKernelRate.callsPerRun)
    }

    /// Floats of one thread's workspace: A panel, B panel and a C tile.
    public var workspaceFloats: Int {
        let tile = target.gemmTile
        return (tile.rows + tile.columns) * MicroKernelRate.depth + tile.rows * tile.columns
    }

    /// Runs `callsPerRun` micro-kernel calls over the panels in `workspace` (`workspaceFloats` floats,
    /// 64-byte aligned, any finite values).
    public func run(workspace: UnsafeMutablePointer<Float>) {
        let tile = target.gemmTile, depth = MicroKernelRate.depth
        let a = UnsafePointer(workspace), b = a + tile.rows * depth
        let c = workspace + (tile.rows + tile.columns) * depth
        for _ in 0..<MicroKernelRate.callsPerRun {
            target.microKernel(k: depth, a: a, b: b, c: c, ldc: tile.columns, rows: tile.rows, columns: tile.columns,
                               overwrite: true, cScale: 0, high: GEMMMicroKernel.columnGroup)
        }
    }
}
