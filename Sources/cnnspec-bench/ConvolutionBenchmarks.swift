import CNNKernels
import Foundation

/// Benchmarks of the convolution backends at every conv layer of the tutorial models, 2 threads.
/// GFLOP/s count the convolution's own 2·MACs for every backend (lowering, padding and the Toeplitz
/// matrix's zeros are overhead, not credited work).
enum ConvolutionBenchmarks {
    struct Layer {
        let name: String
        let inChannels: Int, outChannels: Int, size: Int, kernel: Int, padding: Int
    }

    static let layers = [
        Layer(name: "Model A/B conv1", inChannels: 1, outChannels: 16, size: 28, kernel: 5, padding: 2),
        Layer(name: "Model A/B conv2", inChannels: 16, outChannels: 32, size: 14, kernel: 5, padding: 2),
        Layer(name: "Model C conv1", inChannels: 1, outChannels: 16, size: 28, kernel: 5, padding: 0),
        Layer(name: "Model C conv2", inChannels: 16, outChannels: 32, size: 12, kernel: 5, padding: 0),
        Layer(name: "LeNet-5 conv1", inChannels: 1, outChannels: 6, size: 32, kernel: 5, padding: 0),
        Layer(name: "LeNet-5 conv2", inChannels: 6, outChannels: 16, size: 14, kernel: 5, padding: 0),
        Layer(name: "dropout CNN conv1", inChannels: 1, outChannels: 10, size: 28, kernel: 5, padding: 0),
        Layer(name: "dropout CNN conv2", inChannels: 10, outChannels: 20, size: 24, kernel: 5, padding: 0),
    ]

    static let suite = BenchmarkSuite(name: "conv") {
        let gemm = GEMM(pool: ThreadPool(threadCount: 2))
        print("| layer | batch | backend | forward GFLOP/s | backwardData GFLOP/s | backwardWeights GFLOP/s | prepare ms |")
        print("|---|---|---|---|---|---|---|")
        var runs: [(Layer, Int)] = []
        for layer in layers { for batch in [64, 128] { runs.append((layer, batch)) } }
        runs.insert((layers[1], 100), at: 3)
        for (layer, batch) in runs {
            let g = ConvolutionGeometry(batch: batch, inChannels: layer.inChannels, inHeight: layer.size,
                                        inWidth: layer.size, outChannels: layer.outChannels,
                                        kernelHeight: layer.kernel, kernelWidth: layer.kernel,
                                        strideHeight: 1, strideWidth: 1,
                                        paddingHeight: layer.padding, paddingWidth: layer.padding)
            let inputCount = batch * layer.inChannels * layer.size * layer.size
            let outputCount = batch * layer.outChannels * g.outHeight * g.outWidth
            let weightCount = layer.outChannels * layer.inChannels * layer.kernel * layer.kernel
            let input = BenchmarkTiming.randomBuffer(inputCount), gradInput = BenchmarkTiming.randomBuffer(inputCount)
            let output = BenchmarkTiming.randomBuffer(outputCount), gradOutput = BenchmarkTiming.randomBuffer(outputCount)
            let weight = BenchmarkTiming.randomBuffer(weightCount), gradWeight = BenchmarkTiming.randomBuffer(weightCount)
            let bias = BenchmarkTiming.randomBuffer(layer.outChannels)
            let gradBias = BenchmarkTiming.randomBuffer(layer.outChannels)
            defer { [input, gradInput, output, gradOutput, weight, gradWeight, bias, gradBias].forEach { $0.deallocate() } }
            let flops = 2.0 * Double(batch * g.macsPerImage)
            for kind in ConvolutionBackendKind.allCases {
                let kernel: any ConvolutionKernel
                do {
                    kernel = try makeConvolution(kind, geometry: g, gemm: gemm)
                } catch {
                    print("| \(layer.name) | \(batch) | \(kind) | — | — | — | \(error) |")
                    continue
                }
                let prepare = BenchmarkTiming.median(minimumSeconds: 0.02) { kernel.prepare(weight: weight) }
                let forward = BenchmarkTiming.median(minimumSeconds: 0.1) {
                    kernel.forward(batch: batch, input: input, weight: weight, bias: bias, output: output)
                }
                let data = BenchmarkTiming.median(minimumSeconds: 0.1) {
                    kernel.backwardData(batch: batch, gradOutput: gradOutput, weight: weight, gradInput: gradInput)
                }
                let weights = BenchmarkTiming.median(minimumSeconds: 0.1) {
                    kernel.backwardWeights(batch: batch, input: input, gradOutput: gradOutput,
                                           gradWeight: gradWeight, gradBias: gradBias)
                }
                let rate = { (seconds: Double) in String(format: "%.1f", flops / seconds / 1e9) }
                print("| \(layer.name) | \(batch) | \(kind) | \(rate(forward)) | \(rate(data)) | \(rate(weights)) | "
                      + String(format: "%.2f", prepare * 1e3) + " |")
            }
        }
    }
}
