import CNNKernels
import Foundation

/// The machine's FMA peak (`FMAPeak`, the host's widest vectors in enough independent chains) on 1 and
/// 2 threads, then each kernel target's GEMM micro-kernel on L1-resident panels (`MicroKernelRate`) as a
/// share of it. Model steps and GEMMs are quoted as fractions of the 2-thread peak.
enum PeakBenchmarks {
    static let suite = BenchmarkSuite(name: "peak", summary: "the machine's FMA peak and each target's micro-kernel (GFLOP/s)") {
        let isa = FMAPeak.isa
        print("| measured | threads | GFLOP/s (median) | % of peak | note |")
        print("|---|---|---|---|---|")
        var peaks: [Int: Double] = [:]
        for threads in [1, 2] {
            let rate = FMAPeak.gigaflops(on: ThreadPool(threadCount: threads))
            peaks[threads] = rate
            print("| FMA peak | \(threads) | \(format(rate)) | 100 | \(FMAPeak.chains) independent \(isa.rawValue) FMA chains of \(isa.vectorWidth) floats per thread |")
        }
        for target in KernelTarget.allCases {
            let kernel = MicroKernelRate(target: target)
            let workspaces = (0..<2).map { _ in
                let raw = UnsafeMutableRawPointer.allocate(byteCount: kernel.workspaceFloats * 4, alignment: 64)
                let floats = raw.bindMemory(to: Float.self, capacity: kernel.workspaceFloats)
                floats.initialize(repeating: 1e-3, count: kernel.workspaceFloats)
                return floats
            }
            defer { workspaces.forEach { $0.deallocate() } }
            for threads in [1, 2] {
                let rate = measure(threads: threads, flopsPerRun: kernel.flopsPerRun) { task in kernel.run(workspace: workspaces[task]) }
                let share = 100 * rate / (peaks[threads] ?? rate)
                let native = target == KernelTarget.detected ? " (this CPU's target)" : ""
                print("| micro-kernel \(target) | \(threads) | \(format(rate)) | \(String(format: "%.0f", share)) | L1-resident panels, kc \(kernel.depth)\(native) |")
            }
        }
    }

    static func format(_ value: Double) -> String { String(format: "%.1f", value) }

    /// GFLOP/s of `threads` threads each running `body(task)` (`flopsPerRun` each) at once.
    static func measure(threads: Int, flopsPerRun: Double, _ body: (Int) -> Void) -> Double {
        let pool = ThreadPool(threadCount: threads)
        let seconds = BenchmarkTiming.median(minimumSeconds: 0.5) { pool.run(tasks: threads, body) }
        return Double(threads) * flopsPerRun / seconds / 1e9
    }
}
