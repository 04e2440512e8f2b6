/// The machine's fused multiply-add peak as the kernels can reach it: the 8×32 GEMM micro-kernel
/// (16 independent `SIMD16<Float>` accumulator chains) run over L1-resident packed panels, so no
/// cache miss or packing enters the figure. Whole-step and GEMM figures are quoted as fractions of it.
///
/// Hand-written "independent chains over constant factors" loops are rewritten by the optimizer into
/// scalar code; the micro-kernel's form (factors streamed from memory) is the one that stays in zmm registers.
public enum FMAPeak {
    /// Depth of the packed panels: 8·k + 32·k floats = 40 KiB, inside a 48 KiB L1.
    static let depth = 256
    /// Micro-kernel calls per measured run (each 8·32·depth FMAs).
    static let callsPerRun = 4096

    /// Floating-point operations of one `run` on one thread (2 per multiply-add).
    public static var flopsPerRun: Double { Double(2 * GEMM.mr * GEMM.nr * depth * callsPerRun) }

    /// Workspace of one thread: A panel, B panel and an 8×32 C tile.
    public static var workspaceFloats: Int { (GEMM.mr + GEMM.nr) * depth + GEMM.mr * GEMM.nr }

    /// Runs `callsPerRun` micro-kernel calls over the panels in `workspace` (`workspaceFloats` floats,
    /// 64-byte aligned, any finite values).
    public static func run(workspace: UnsafeMutablePointer<Float>) {
        let a = UnsafePointer(workspace), b = a + GEMM.mr * depth
        let c = workspace + (GEMM.mr + GEMM.nr) * depth
        for _ in 0..<callsPerRun {
            GEMMMicroKernel.run(k: depth, a: a, b: b, c: c, ldc: GEMM.nr, rows: GEMM.mr, columns: GEMM.nr,
                                overwrite: true, cScale: 0)
        }
    }
}
