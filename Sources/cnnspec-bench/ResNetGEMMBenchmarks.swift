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
        let pool = ThreadPool(threadCount: BenchmarkTiming.threads)
        let gemm = GEMM(pool: pool)
        print("| stage | pass | M×N×K | GFLOP/s (2 threads, median) (% of FMA peak) |")
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
                let rate = BenchmarkTiming.rate(flops: 2.0 * Double(shape.m * shape.n * shape.k), seconds: seconds)
                print("| \(c)×\(stage.side)² | \(shape.pass) | \(shape.m)×\(shape.n)×\(shape.k) | \(rate) |")
            }
        }
    }
}

/// The full convolution passes at ResNet-18-CIFAR's layer shapes, batch 64: im2col (BatchedIm2ColConvolution
/// from 16×16 on) next to `gemm-resnet`'s raw GEMMs — the difference is the passes' overhead outside the GEMM
/// core (gathering gradOutput, scattering into NCHW, col2im, packing patches) — and, for the 3×3 stride-1
/// layers, Winograd (and direct at 32×32, what `auto` chose there before Winograd).
/// GFLOP/s count the layer's direct 2·MACs per pass for every backend (Winograd does 2.25× fewer).
enum ResNetConvolutionBenchmarks {
    struct Layer {
        let name: String
        let inChannels: Int, outChannels: Int, inSide: Int, kernel: Int, stride: Int
    }

    static let batch = 64
    static let layers = [
        Layer(name: "layer1.x 64→64 32²", inChannels: 64, outChannels: 64, inSide: 32, kernel: 3, stride: 1),
        Layer(name: "layer2.0.conv1 64→128 32²→16² s2", inChannels: 64, outChannels: 128, inSide: 32, kernel: 3, stride: 2),
        Layer(name: "layer2.0.downsample 1×1 64→128 s2", inChannels: 64, outChannels: 128, inSide: 32, kernel: 1, stride: 2),
        Layer(name: "layer2.x 128→128 16²", inChannels: 128, outChannels: 128, inSide: 16, kernel: 3, stride: 1),
        Layer(name: "layer3.0.conv1 128→256 16²→8² s2", inChannels: 128, outChannels: 256, inSide: 16, kernel: 3, stride: 2),
        Layer(name: "layer3.0.downsample 1×1 128→256 s2", inChannels: 128, outChannels: 256, inSide: 16, kernel: 1, stride: 2),
        Layer(name: "layer3.x 256→256 8²", inChannels: 256, outChannels: 256, inSide: 8, kernel: 3, stride: 1),
        Layer(name: "layer4.0.conv1 256→512 8²→4² s2", inChannels: 256, outChannels: 512, inSide: 8, kernel: 3, stride: 2),
        Layer(name: "layer4.0.downsample 1×1 256→512 s2", inChannels: 256, outChannels: 512, inSide: 8, kernel: 1, stride: 2),
        Layer(name: "layer4.x 512→512 4²", inChannels: 512, outChannels: 512, inSide: 4, kernel: 3, stride: 1),
    ]

    static let suite = BenchmarkSuite(name: "conv-resnet",
                                      summary: "convolution passes at ResNet-18-CIFAR's layer shapes (GFLOP/s)") {
        let gemm = GEMM(pool: ThreadPool(threadCount: BenchmarkTiming.threads))
        print("Batch \(batch), 2 threads; medians. Compare im2col with `gemm-resnet`.\n")
        print("| layer | backend | forward ms | GFLOP/s (% peak) | backwardData ms | GFLOP/s (% peak) | backwardWeights ms | GFLOP/s (% peak) |")
        print("|---|---|---|---|---|---|---|---|")
        for layer in layers {
            let winograd = layer.kernel == 3 && layer.stride == 1
            let backends: [ConvolutionBackendKind] = winograd
                ? [.winograd, .im2col] + (layer.inSide >= 32 ? [.direct] : []) : [.im2col]
            for kind in backends { measure(layer, kind: kind, gemm: gemm) }
        }
    }

    static func measure(_ layer: Layer, kind: ConvolutionBackendKind, gemm: GEMM) {
        let padding = layer.kernel / 2
        let g = ConvolutionGeometry(batch: batch, inChannels: layer.inChannels, inHeight: layer.inSide,
                                    inWidth: layer.inSide, outChannels: layer.outChannels,
                                    kernelHeight: layer.kernel, kernelWidth: layer.kernel,
                                    strideHeight: layer.stride, strideWidth: layer.stride,
                                    paddingHeight: padding, paddingWidth: padding)
        guard case .success(let times) = ConvolutionPasses.time(kind, geometry: g, batch: batch, gemm: gemm,
                                                              bias: false) else {
            print("| \(layer.name) | \(kind) | unsupported |")
            return
        }
        let (forward, data, weights) = times
        let flops = 2.0 * Double(batch * g.macsPerImage)
        let cells = [forward, data, weights].map { seconds in
            String(format: "%.2f | ", seconds * 1e3) + BenchmarkTiming.rate(flops: flops, seconds: seconds)
        }
        print("| \(layer.name) | \(kind) | " + cells.joined(separator: " | ") + " |")
    }
}
