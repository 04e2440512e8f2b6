import CNNKernels
import Foundation

/// The FMA peak (`FMAPeak`): 1 and 2 threads, each running 16 independent zmm FMA accumulator chains
/// over L1-resident panels. Model steps and GEMMs are quoted as fractions of the 2-thread figure.
enum PeakBenchmarks {
    static let suite = BenchmarkSuite(name: "peak", summary: "the machine's FMA peak (GFLOP/s)") {
        print("| threads | GFLOP/s (median) | note |")
        print("|---|---|---|")
        for threads in [1, 2] {
            print("| \(threads) | \(String(format: "%.1f", measure(threads: threads))) | 16 independent zmm FMA chains per thread (8×32 micro-kernel, L1-resident) |")
        }
    }

    /// GFLOP/s of `threads` threads each running `FMAPeak.run` at once.
    static func measure(threads: Int) -> Double {
        let pool = ThreadPool(threadCount: threads)
        let workspaces = (0..<threads).map { _ in
            let raw = UnsafeMutableRawPointer.allocate(byteCount: FMAPeak.workspaceFloats * 4, alignment: 64)
            let floats = raw.bindMemory(to: Float.self, capacity: FMAPeak.workspaceFloats)
            floats.initialize(repeating: 1e-3, count: FMAPeak.workspaceFloats)
            return floats
        }
        defer { workspaces.forEach { $0.deallocate() } }
        let seconds = workspaces.withUnsafeBufferPointer { buffers in
            BenchmarkTiming.median(minimumSeconds: 0.5) {
                pool.run(tasks: threads, context: buffers.baseAddress!) { raw, task in  // invariant: non-empty array
                    FMAPeak.run(workspace: raw.load(as: UnsafePointer<UnsafeMutablePointer<Float>>.self)[task])
                }
            }
        }
        return Double(threads) * FMAPeak.flopsPerRun / seconds / 1e9
    }
}
