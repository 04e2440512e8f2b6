import CNNKernels
import Foundation

/// Benchmarks of the GEMM kernels: GFLOP/s of C = A·B at the CNN-shaped sizes, 2 threads.
enum GEMMBenchmarks {
    static let suite = BenchmarkSuite(name: "gemm", summary: "single-precision GEMM (GFLOP/s)") {
        let pool = ThreadPool(threadCount: BenchmarkTiming.threads)
        let gemm = GEMM(pool: pool)
        let shapes: [(m: Int, n: Int, k: Int, note: String)] = [
            (16, 78400, 25, "conv1 as one GEMM, batch 100"),
            (32, 19600, 400, "conv2 as one GEMM, batch 100"),
            (32, 4900, 400, "conv2 batch 25"),
            (100, 128, 2000, "FC-like"),
            (512, 512, 512, "square"),
        ]
        print("| M×N×K | transposes | GFLOP/s (2 threads, median) (% of FMA peak) | note |")
        print("|---|---|---|---|")
        for shape in shapes {
            for (transposeA, transposeB) in [(false, false), (true, false), (false, true)] {
                let a = BenchmarkTiming.randomBuffer(shape.m * shape.k)
                let b = BenchmarkTiming.randomBuffer(shape.k * shape.n)
                let c = BenchmarkTiming.randomBuffer(shape.m * shape.n)
                defer { a.deallocate(); b.deallocate(); c.deallocate() }
                let flops = 2.0 * Double(shape.m * shape.n * shape.k)
                let seconds = BenchmarkTiming.median(minimumSeconds: 0.3) {
                    gemm.multiply(m: shape.m, n: shape.n, k: shape.k,
                                  a: a, lda: transposeA ? shape.m : shape.k, transposeA: transposeA,
                                  b: b, ldb: transposeB ? shape.k : shape.n, transposeB: transposeB,
                                  c: c, ldc: shape.n)
                }
                let label = (transposeA ? "Aᵀ" : "A") + "·" + (transposeB ? "Bᵀ" : "B")
                print("| \(shape.m)×\(shape.n)×\(shape.k) | \(label) | \(BenchmarkTiming.rate(flops: flops, seconds: seconds)) | \(shape.note) |")
            }
        }
    }
}

/// Timing helpers shared by the kernel benchmark suites.
enum BenchmarkTiming {
    /// Threads every suite but `peak` and `threadpool` runs on.
    static let threads = 2
    /// The machine's FMA peak on `threads` threads (`FMAPeak`), measured once per process, the first time a
    /// rate is printed: every GFLOP/s figure is also given as a share of it.
    static let peak: Double = FMAPeak.gigaflops(on: ThreadPool(threadCount: threads))

    /// "GFLOP/s (share of the FMA peak)" for `flops` done in `seconds`.
    static func rate(flops: Double, seconds: Double) -> String {
        let gigaflops = flops / seconds / 1e9
        return String(format: "%.1f (%.0f %%)", gigaflops, 100 * gigaflops / peak)
    }

    /// Median wall time of `body` in seconds, over at least 5 runs and about `minimumSeconds` in total
    /// (after one warm-up run).
    static func median(minimumSeconds: Double, _ body: () -> Void) -> Double {
        body()
        var times: [Double] = []
        let start = DispatchTime.now().uptimeNanoseconds
        while times.count < 5 || (Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9 < minimumSeconds && times.count < 1000) {
            let t0 = DispatchTime.now().uptimeNanoseconds
            body()
            times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9)
        }
        times.sort()
        return times[times.count / 2]
    }

    /// A buffer of `count` values uniform in [-1, 1) (deterministic).
    static func randomBuffer(_ count: Int) -> UnsafeMutablePointer<Float> {
        let buffer = UnsafeMutablePointer<Float>.allocate(capacity: max(count, 1))
        var state: UInt32 = 12345
        for i in 0..<count {
            state = state &* 1_664_525 &+ 1_013_904_223
            buffer[i] = Float(state >> 8) / Float(1 << 23) - 1
        }
        return buffer
    }
}
