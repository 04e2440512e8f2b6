import CNNKernels
import Foundation

/// Benchmarks of the convolution backends at every conv layer of the tutorial models, 2 threads, at the
/// tutorials' batch sizes, then the convolution share of one training step per model.
/// GFLOP/s count the convolution's own 2·MACs for every backend (lowering, padding and the Toeplitz
/// matrix's zeros are overhead, not credited work).
enum ConvolutionBenchmarks {
    struct Layer: Hashable {
        let name: String
        let inChannels: Int, outChannels: Int, size: Int, kernel: Int, padding: Int
    }

    /// One tutorial model's conv layers (first to last) and its training batch size.
    struct Model {
        let name: String
        let batch: Int
        let layers: [Layer]
    }

    static let modelAConv1 = Layer(name: "Model A/B conv1", inChannels: 1, outChannels: 16, size: 28, kernel: 5, padding: 2)
    static let modelAConv2 = Layer(name: "Model A/B conv2", inChannels: 16, outChannels: 32, size: 14, kernel: 5, padding: 2)
    static let modelCConv1 = Layer(name: "Model C conv1", inChannels: 1, outChannels: 16, size: 28, kernel: 5, padding: 0)
    static let modelCConv2 = Layer(name: "Model C conv2", inChannels: 16, outChannels: 32, size: 12, kernel: 5, padding: 0)
    static let leNetConv1 = Layer(name: "LeNet-5 conv1", inChannels: 1, outChannels: 6, size: 32, kernel: 5, padding: 0)
    static let leNetConv2 = Layer(name: "LeNet-5 conv2", inChannels: 6, outChannels: 16, size: 14, kernel: 5, padding: 0)
    static let dropoutConv1 = Layer(name: "dropout CNN conv1", inChannels: 1, outChannels: 10, size: 28, kernel: 5, padding: 0)
    static let dropoutConv2 = Layer(name: "dropout CNN conv2", inChannels: 10, outChannels: 20, size: 24, kernel: 5, padding: 0)
    static let fashionConv1 = Layer(name: "Fashion LeNet conv1", inChannels: 1, outChannels: 6, size: 28, kernel: 5, padding: 0)
    static let fashionConv2 = Layer(name: "Fashion LeNet conv2", inChannels: 6, outChannels: 16, size: 12, kernel: 5, padding: 0)

    static let models = [
        Model(name: "Model A / Model B", batch: 100, layers: [modelAConv1, modelAConv2]),
        Model(name: "Model C", batch: 100, layers: [modelCConv1, modelCConv2]),
        Model(name: "LeNet-5", batch: 128, layers: [leNetConv1, leNetConv2]),
        Model(name: "LeNet-5 max-pool", batch: 64, layers: [leNetConv1, leNetConv2]),
        Model(name: "dropout CNN", batch: 64, layers: [dropoutConv1, dropoutConv2]),
        Model(name: "Fashion LeNet", batch: 64, layers: [fashionConv1, fashionConv2]),
    ]

    /// Median seconds of one pass per backend (nil: the backend cannot build this layer).
    struct Timing {
        var forward: [ConvolutionBackendKind: Double] = [:]
        var data: [ConvolutionBackendKind: Double] = [:]
        var weights: [ConvolutionBackendKind: Double] = [:]
    }

    struct RunKey: Hashable { let layer: Layer; let batch: Int }

    static let suite = BenchmarkSuite(name: "conv", summary: "convolution backends at tutorial and ResNet shapes (GFLOP/s)") {
        let gemm = GEMM(pool: ThreadPool(threadCount: BenchmarkTiming.threads))
        print("| layer | batch | backend | forward GFLOP/s (% peak) | backwardData GFLOP/s (% peak) | backwardWeights GFLOP/s (% peak) | prepare ms |")
        print("|---|---|---|---|---|---|---|")
        var timings: [RunKey: Timing] = [:]
        for model in models {
            for layer in model.layers where timings[RunKey(layer: layer, batch: model.batch)] == nil {
                timings[RunKey(layer: layer, batch: model.batch)] = measure(layer, batch: model.batch, gemm: gemm)
            }
        }
        print("\nConvolution share of one training step (best backend per pass; the first conv needs no backwardData):\n")
        print("| model | batch | forward ms | backwardData ms | backwardWeights ms | conv step ms | backends (per layer: forward/data/weights) |")
        print("|---|---|---|---|---|---|---|")
        for model in models {
            var forward = 0.0, data = 0.0, weights = 0.0
            var choices: [String] = []
            for (index, layer) in model.layers.enumerated() {
                guard let timing = timings[RunKey(layer: layer, batch: model.batch)] else { continue }
                let bestForward = best(timing.forward), bestWeights = best(timing.weights)
                forward += bestForward.seconds
                weights += bestWeights.seconds
                var choice = "\(bestForward.kind)/"
                if index > 0 {
                    let bestData = best(timing.data)
                    data += bestData.seconds
                    choice += "\(bestData.kind)/"
                } else {
                    choice += "—/"
                }
                choices.append(choice + "\(bestWeights.kind)")
            }
            let ms = { (seconds: Double) in String(format: "%.2f", seconds * 1e3) }
            print("| \(model.name) | \(model.batch) | \(ms(forward)) | \(ms(data)) | \(ms(weights)) | "
                  + "\(ms(forward + data + weights)) | \(choices.joined(separator: ", ")) |")
        }
    }

    static func best(_ times: [ConvolutionBackendKind: Double]) -> (kind: ConvolutionBackendKind, seconds: Double) {
        let entry = times.min { $0.value < $1.value }
        return (entry?.key ?? .direct, entry?.value ?? .nan)
    }

    /// Times every backend on one layer and batch, prints its table rows and returns the medians.
    static func measure(_ layer: Layer, batch: Int, gemm: GEMM) -> Timing {
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
        var timing = Timing()
        for kind in ConvolutionBackendKind.allCases {
            let kernel: any ConvolutionKernel
            do {
                kernel = try makeConvolution(kind, geometry: g, gemm: gemm)
            } catch ConvolutionError.unsupported {
                continue  // e.g. the depthwise backend on an ordinary layer
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
            timing.forward[kind] = forward
            timing.data[kind] = data
            timing.weights[kind] = weights
            let rate = { (seconds: Double) in BenchmarkTiming.rate(flops: flops, seconds: seconds) }
            print("| \(layer.name) | \(batch) | \(kind) | \(rate(forward)) | \(rate(data)) | \(rate(weights)) | "
                  + String(format: "%.2f", prepare * 1e3) + " |")
        }
        return timing
    }
}

/// `depthwise` suite: the MobileNetV2 depthwise layer (144 channels, 56×56, 3×3, padding 1, batch 32) at
/// stride 1 and 2 through the depthwise backend and through im2col, next to the 1×1 projection that follows
/// it in the network (im2col, which uses the input itself as the lowered matrix for 1×1 layers).
/// GB/s count the bytes of input + output + weights one pass touches at least once (for backwardData
/// gradOutput + gradInput + weights, for backwardWeights input + gradOutput + gradWeight); GFLOP/s the
/// layer's 2·MACs.
enum DepthwiseBenchmarks {
    struct Case {
        let name: String
        let geometry: ConvolutionGeometry
        let backends: [ConvolutionBackendKind]
    }

    static let batch = 32
    static let channels = 144
    static let size = 56

    static func depthwise(stride: Int) -> ConvolutionGeometry {
        ConvolutionGeometry(batch: batch, inChannels: channels, inHeight: size, inWidth: size, outChannels: channels,
                            kernelHeight: 3, kernelWidth: 3, strideHeight: stride, strideWidth: stride,
                            paddingHeight: 1, paddingWidth: 1, groups: channels)
    }

    static func pointwise(size: Int, outChannels: Int) -> ConvolutionGeometry {
        ConvolutionGeometry(batch: batch, inChannels: channels, inHeight: size, inWidth: size, outChannels: outChannels,
                            kernelHeight: 1, kernelWidth: 1, strideHeight: 1, strideWidth: 1,
                            paddingHeight: 0, paddingWidth: 0)
    }

    static let cases = [
        Case(name: "dw 3×3 s1 144ch 56×56", geometry: depthwise(stride: 1), backends: [.depthwise, .im2col]),
        Case(name: "pw 1×1 144→24 56×56", geometry: pointwise(size: 56, outChannels: 24), backends: [.im2col]),
        Case(name: "dw 3×3 s2 144ch 56×56→28×28", geometry: depthwise(stride: 2), backends: [.depthwise, .im2col]),
        Case(name: "pw 1×1 144→32 28×28", geometry: pointwise(size: 28, outChannels: 32), backends: [.im2col]),
    ]

    static let suite = BenchmarkSuite(name: "depthwise", summary: "depthwise convolution (GFLOP/s)") {
        let gemm = GEMM(pool: ThreadPool(threadCount: BenchmarkTiming.threads))
        print("Batch \(batch), 2 threads; medians. GB/s: bytes of input + output + weights per pass.\n")
        print("| layer | backend | forward ms | GB/s | GFLOP/s (% peak) | backwardData ms | GB/s | GFLOP/s (% peak) | backwardWeights ms | GB/s | GFLOP/s (% peak) |")
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        for item in cases { for kind in item.backends { measure(item, kind: kind, gemm: gemm) } }
        copyReference(gemm.pool)
    }

    /// The bandwidth a plain 2-thread copy of the s1 layer's input into its output reaches on this machine
    /// now (8 bytes moved per float: read + write), the ceiling for the GB/s above.
    static func copyReference(_ pool: ThreadPool) {
        struct Copy { let from: UnsafePointer<Float>; let to: UnsafeMutablePointer<Float> }
        let count = batch * channels * size * size
        let from = BenchmarkTiming.randomBuffer(count), to = BenchmarkTiming.randomBuffer(count)
        defer { from.deallocate(); to.deallocate() }
        let seconds = BenchmarkTiming.median(minimumSeconds: 0.3) {
            pool.parallelFor(count, minimumChunk: 1 << 16, context: Copy(from: from, to: to)) { raw, start, end in
                let copy = raw.load(as: Copy.self)
                (copy.to + start).update(from: copy.from + start, count: end - start)
            }
        }
        print(String(format: "\nReference: 2-thread copy of %.0f MB (read + write) %.2f ms, %.1f GB/s",
                     4.0 * Double(count) / 1e6, seconds * 1e3, 8.0 * Double(count) / seconds / 1e9))
    }

    static func measure(_ item: Case, kind: ConvolutionBackendKind, gemm: GEMM) {
        let g = item.geometry
        let inputCount = batch * g.inChannels * g.inHeight * g.inWidth
        let outputCount = batch * g.outChannels * g.outHeight * g.outWidth
        let forward: Double, data: Double, weights: Double
        switch ConvolutionPasses.time(kind, geometry: g, batch: batch, gemm: gemm, bias: true) {
        case .success(let times): (forward, data, weights) = times
        case .failure(let error):
            print("| \(item.name) | \(kind) | \(error) |")
            return
        }
        let bytes = 4.0 * Double(inputCount + outputCount + g.weightCount)
        let flops = 2.0 * Double(batch * g.macsPerImage)
        let cells = [forward, data, weights].map { seconds in
            String(format: "%.2f | %.1f | ", seconds * 1e3, bytes / seconds / 1e9) + BenchmarkTiming.rate(flops: flops, seconds: seconds)
        }
        print("| \(item.name) | \(kind) | " + cells.joined(separator: " | ") + " |")
    }
}

/// Median seconds of a convolution kernel's three passes on random buffers, in training's order (forward,
/// backwardWeights, backwardData on the same output gradient); the kernel's construction error otherwise.
enum ConvolutionPasses {
    static func time(_ kind: ConvolutionBackendKind, geometry g: ConvolutionGeometry, batch: Int, gemm: GEMM,
                     bias hasBias: Bool) -> Result<(forward: Double, data: Double, weights: Double), Error> {
        let inputCount = batch * g.inChannels * g.inHeight * g.inWidth
        let outputCount = batch * g.outChannels * g.outHeight * g.outWidth
        let input = BenchmarkTiming.randomBuffer(inputCount), gradInput = BenchmarkTiming.randomBuffer(inputCount)
        let output = BenchmarkTiming.randomBuffer(outputCount), gradOutput = BenchmarkTiming.randomBuffer(outputCount)
        let weight = BenchmarkTiming.randomBuffer(g.weightCount), gradWeight = BenchmarkTiming.randomBuffer(g.weightCount)
        let bias = BenchmarkTiming.randomBuffer(g.outChannels), gradBias = BenchmarkTiming.randomBuffer(g.outChannels)
        defer { [input, gradInput, output, gradOutput, weight, gradWeight, bias, gradBias].forEach { $0.deallocate() } }
        let kernel: any ConvolutionKernel
        do { kernel = try makeConvolution(kind, geometry: g, gemm: gemm) } catch { return .failure(error) }
        kernel.prepare(weight: weight)
        let forward = BenchmarkTiming.median(minimumSeconds: 0.3) {
            kernel.forward(batch: batch, input: input, weight: weight, bias: hasBias ? bias : nil, output: output)
        }
        let weights = BenchmarkTiming.median(minimumSeconds: 0.3) {
            kernel.backwardWeights(batch: batch, input: input, gradOutput: gradOutput, gradWeight: gradWeight,
                                   gradBias: hasBias ? gradBias : nil)
        }
        let data = BenchmarkTiming.median(minimumSeconds: 0.3) {
            kernel.backwardData(batch: batch, gradOutput: gradOutput, weight: weight, gradInput: gradInput)
        }
        return .success((forward, data, weights))
    }
}
