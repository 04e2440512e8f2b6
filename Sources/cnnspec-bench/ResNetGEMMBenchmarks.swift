import CNNKernels
import Foundation

/// GEMM GFLOP/s at the shapes of ResNet-18's 3×3 convolutions on 32×32 input (the CIFAR variant),
/// lowered the two ways: one image at a time (N = OH·OW) and as im2col runs them, a chunk of images
/// side by side (N = 1024 columns once OH·OW ≤ 256, see BatchedIm2ColConvolution). Forward is
/// W[Cout, 9·Cin] · col[9·Cin, N]; backward-data Wᵀ · gradOut; backward-weights gradOut · colᵀ.
/// Compare with the `peak` suite.
enum ResNetGEMMBenchmarks {
    /// ResNet-18-CIFAR's stage widths and output sizes.
    static let stages: [(channels: Int, side: Int)] = [(64, 32), (128, 16), (256, 8), (512, 4)]
    /// Columns of one batched GEMM (BatchedIm2ColConvolution.targetColumns).
    static let chunkColumns = 1024

    static let suite = BenchmarkSuite(name: "gemm-resnet", summary: "GEMM at ResNet-18's 3×3 convolution shapes (GFLOP/s)") {
        let pool = ThreadPool(threadCount: 2)
        let gemm = GEMM(pool: pool)
        print("| stage | pass | M×N×K | GFLOP/s (2 threads, median) |")
        print("|---|---|---|---|")
        for stage in stages {
            let c = stage.channels, plane = stage.side * stage.side, k = 9 * c, n = max(plane, chunkColumns)
            let shapes: [(pass: String, m: Int, n: Int, k: Int, ta: Bool, tb: Bool)] = [
                ("forward, one image", c, plane, k, false, false),
                ("forward, chunk", c, n, k, false, false),
                ("backward data, chunk", k, n, c, true, false),
                ("backward weights, chunk", c, k, n, false, true),
            ]
            for shape in shapes {
                let a = BenchmarkTiming.randomBuffer(shape.m * shape.k)
                let b = BenchmarkTiming.randomBuffer(shape.k * shape.n)
                let out = BenchmarkTiming.randomBuffer(shape.m * shape.n)
                defer { a.deallocate(); b.deallocate(); out.deallocate() }
                let seconds = BenchmarkTiming.median(minimumSeconds: 0.3) {
                    gemm.multiply(m: shape.m, n: shape.n, k: shape.k, a: a, lda: shape.ta ? shape.m : shape.k,
                                  transposeA: shape.ta, b: b, ldb: shape.tb ? shape.k : shape.n, transposeB: shape.tb,
                                  c: out, ldc: shape.n)
                }
                let gflops = 2.0 * Double(shape.m * shape.n * shape.k) / seconds / 1e9
                print("| \(c)×\(stage.side)² | \(shape.pass) | \(shape.m)×\(shape.n)×\(shape.k) | \(String(format: "%.1f", gflops)) |")
            }
        }
    }
}
