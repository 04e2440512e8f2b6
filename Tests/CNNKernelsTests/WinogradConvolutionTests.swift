@testable import CNNKernels
import PyTorchFixtures
import Testing

/// The Winograd F(2×2, 3×3) backend on the shapes it is built for, against the Float64 reference: batches
/// that fill, split and overflow the 16-image lane groups, odd planes (partial tiles), 0–2 padding on each
/// side, channel counts that are not multiples of the micro-kernel's 8 rows, depths over one 256-deep slice,
/// and bands that span several image groups.
struct WinogradConvolutionTests {
    let gemm = GEMM(pool: ThreadPool(threadCount: 2))

    static func geometry(batch: Int, inChannels: Int, side: (Int, Int), outChannels: Int,
                         padding: (top: Int, bottom: Int, left: Int, right: Int)) -> ConvolutionGeometry {
        ConvolutionGeometry(batch: batch, inChannels: inChannels, inHeight: side.0, inWidth: side.1,
                            outChannels: outChannels, kernelHeight: 3, kernelWidth: 3, strideHeight: 1, strideWidth: 1,
                            paddingTop: padding.top, paddingBottom: padding.bottom, paddingLeft: padding.left,
                            paddingRight: padding.right)
    }

    static let cases: [ConvolutionGeometry] = [
        geometry(batch: 16, inChannels: 8, side: (8, 8), outChannels: 8, padding: (1, 1, 1, 1)),
        geometry(batch: 1, inChannels: 3, side: (5, 7), outChannels: 5, padding: (1, 1, 1, 1)),
        geometry(batch: 17, inChannels: 6, side: (9, 11), outChannels: 13, padding: (1, 1, 1, 1)),
        geometry(batch: 35, inChannels: 4, side: (4, 4), outChannels: 9, padding: (1, 1, 1, 1)),
        geometry(batch: 5, inChannels: 7, side: (10, 6), outChannels: 3, padding: (0, 0, 0, 0)),
        geometry(batch: 3, inChannels: 5, side: (6, 9), outChannels: 4, padding: (2, 0, 1, 2)),
        geometry(batch: 20, inChannels: 300, side: (4, 4), outChannels: 17, padding: (1, 1, 1, 1)),
        geometry(batch: 18, inChannels: 2, side: (3, 3), outChannels: 2, padding: (2, 2, 2, 2)),
        geometry(batch: 33, inChannels: 16, side: (2, 2), outChannels: 24, padding: (1, 1, 1, 1)),
    ]

    @Test(arguments: cases, KernelTarget.allCases)
    func matchesReference(geometry g: ConvolutionGeometry, target: KernelTarget) throws {
        let gemm = GEMM(pool: ThreadPool(threadCount: 2), target: target)
        var random = TestRandom(seed: UInt64(7 + g.inChannels * 31 + g.batch))
        let kernel = try makeConvolution(.winograd, geometry: g, gemm: gemm)
        #expect(kernel.kind == .winograd)
        let run = ConvolutionRun(kernel: kernel)
        for batch in Set([g.batch, max(1, g.batch - 3)]).sorted() {
            let input = random.array(batch * g.inputImageSize)
            let weight = random.array(g.weightCount)
            let bias = random.array(g.outChannels)
            let gradOutput = random.array(batch * g.outputImageSize)
            let expectedOut = ConvolutionReference.forward(g, batch: batch, input: input, weight: weight, bias: bias)
            let expectedIn = ConvolutionReference.backwardData(g, batch: batch, gradOutput: gradOutput, weight: weight)
            let expectedW = ConvolutionReference.backwardWeights(g, batch: batch, input: input, gradOutput: gradOutput)
            let output = run.forward(batch: batch, input: input, weight: weight, bias: bias)
            let gradInput = run.backwardData(batch: batch, gradOutput: gradOutput, weight: weight)
            let grads = run.backwardWeights(batch: batch, input: input, gradOutput: gradOutput)
            let label = "batch \(batch) \(g)"
            #expect(maxRelativeError(output, expectedOut, floor: scaledFloor(expectedOut)) < 1e-4, "\(label) forward")
            #expect(maxRelativeError(gradInput, expectedIn, floor: scaledFloor(expectedIn)) < 1e-4, "\(label) data")
            #expect(maxRelativeError(grads.weight, expectedW.weight, floor: scaledFloor(expectedW.weight)) < 1e-4,
                    "\(label) weights")
            #expect(maxRelativeError(grads.bias, expectedW.bias, floor: scaledFloor(expectedW.bias)) < 1e-4, "\(label) bias")
        }
    }

    /// New weights take effect at `prepare`, as the contract says (U is cached between calls).
    @Test func prepareTakesNewWeights() throws {
        let g = Self.cases[0]
        var random = TestRandom(seed: 99)
        let kernel = try makeConvolution(.winograd, geometry: g, gemm: gemm)
        let run = ConvolutionRun(kernel: kernel)
        let input = random.array(g.batch * g.inputImageSize)
        for _ in 0..<2 {
            let weight = random.array(g.weightCount)
            let expected = ConvolutionReference.forward(g, batch: g.batch, input: input, weight: weight, bias: nil)
            let output = run.forward(batch: g.batch, input: input, weight: weight, bias: nil)
            #expect(maxRelativeError(output, expected, floor: scaledFloor(expected)) < 1e-4)
        }
    }

    /// Layers whose transformed weights and scratch would pass `byteLimit` are refused with the figure, before
    /// anything is allocated (channel counts a user can write would otherwise overflow or exhaust memory).
    @Test func hugeLayersAreRefusedBeforeAllocating() throws {
        let estimate = { (g: ConvolutionGeometry) in WinogradConvolution.estimatedBytes(g, threads: 2) }
        let resnet = Self.geometry(batch: 64, inChannels: 512, side: (4, 4), outChannels: 512, padding: (1, 1, 1, 1))
        #expect(estimate(resnet) < Double(WinogradConvolution.byteLimit))
        for channels in [4096, 1 << 24] {
            let g = Self.geometry(batch: 2, inChannels: channels, side: (8, 8), outChannels: channels, padding: (1, 1, 1, 1))
            #expect(ConvolutionBackendKind.winograd.memory(geometry: g, threads: 2) == nil, "stated as refused")
            do {
                _ = try makeConvolution(.winograd, geometry: g, gemm: gemm)
                Issue.record("\(channels) channels must be refused")
            } catch let error as ConvolutionError {
                guard case .unsupported(.winograd, _) = error else { Issue.record("\(error)"); continue }
                #expect(error.description.contains("MiB") && error.description.contains("im2col"), "\(error)")
            }
        }
    }
}
