import CKernelTarget
import Dispatch

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

    /// Runs measured for `gigaflops`, whose median is taken (a run is about 8 ms on a 100 GFLOP/s core).
    static let measuredRuns = 15

    /// GFLOP/s of the chains on `pool`'s threads at once (the median of `measuredRuns` runs): the yardstick
    /// every GFLOP/s figure of `cnnspec time` and the benches is quoted against.
    public static func gigaflops(on pool: ThreadPool) -> Double {
        let threads = pool.threadCount
        var nanoseconds = [Double]()
        for _ in 0..<measuredRuns {
            let start = DispatchTime.now().uptimeNanoseconds
            pool.run(tasks: threads) { _ in run() }
            nanoseconds.append(Double(DispatchTime.now().uptimeNanoseconds - start))
        }
        nanoseconds.sort()
        return Double(threads) * flopsPerRun / nanoseconds[measuredRuns / 2]
    }

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
    /// Micro-kernel calls per measured run.
    static let callsPerRun = 4096

    public let target: KernelTarget
    /// Depth of the panels: the kc the GEMM itself runs this target with on this host (`GEMMBlocking`), which
    /// keeps both micro-panels in L1 by construction, so the figure is the micro-kernel as the GEMM calls it.
    public let depth: Int

    public init(target: KernelTarget) {
        self.target = target
        depth = GEMMBlocking(tile: target.gemmTile, caches: .host).kc
    }

    /// Floating-point operations of one `run` on one thread (2 per multiply-add).
    public var flopsPerRun: Double {
        let tile = target.gemmTile
        return Double(2 * tile.rows * tile.columns * depth * MicroKernelRate.callsPerRun)
    }

    /// Floats of one thread's workspace: A panel, B panel and a C tile.
    public var workspaceFloats: Int {
        let tile = target.gemmTile
        return (tile.rows + tile.columns) * depth + tile.rows * tile.columns
    }

    /// Runs `callsPerRun` micro-kernel calls over the panels in `workspace` (`workspaceFloats` floats,
    /// 64-byte aligned, any finite values).
    public func run(workspace: UnsafeMutablePointer<Float>) {
        let tile = target.gemmTile
        let a = UnsafePointer(workspace), b = a + tile.rows * depth
        let c = workspace + (tile.rows + tile.columns) * depth
        for _ in 0..<MicroKernelRate.callsPerRun {
            target.microKernel(k: depth, a: a, b: b, c: c, ldc: tile.columns, rows: tile.rows, columns: tile.columns,
                               overwrite: true, cScale: 0, high: GEMMMicroKernel.columnGroup)
        }
    }
}
