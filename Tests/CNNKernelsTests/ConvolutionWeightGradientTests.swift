@testable import CNNKernels
import PyTorchFixtures
import Testing

/// The direct backend's stacked-image weight gradient (`StackedGrid` / `StackedCorrelation`) against the
/// Float64 reference: geometries it supports with several image blocks per thread, a partial last block,
/// channel counts that leave 4-channel blocks and 5-entry patch tiles partly empty, and the fallback
/// (stride > 1, padding ≥ kernel) next to it.
struct ConvolutionWeightGradientTests {
    func check(_ g: ConvolutionGeometry, batch: Int, seed: UInt64, target: KernelTarget) throws {
        let gemm = GEMM(pool: ThreadPool(threadCount: 2), target: target)
        var random = TestRandom(seed: seed)
        let run = ConvolutionRun(kernel: try makeConvolution(.direct, geometry: g, gemm: gemm))
        let input = random.array(batch * g.inputImageSize)
        let gradOutput = random.array(batch * g.outputImageSize)
        let expected = ConvolutionReference.backwardWeights(g, batch: batch, input: input, gradOutput: gradOutput)
        // Twice: the second call must not see the first call's sums or stale block contents.
        for pass in 0..<2 {
            let grads = run.backwardWeights(batch: batch, input: input, gradOutput: gradOutput)
            #expect(maxRelativeError(grads.weight, expected.weight, floor: scaledFloor(expected.weight)) < 1e-4,
                    "\(g) batch \(batch) pass \(pass) \(target)")
            #expect(maxRelativeError(grads.bias, expected.bias, floor: scaledFloor(expected.bias)) < 1e-4,
                    "\(g) batch \(batch) pass \(pass) bias")
        }
    }

    /// 1% of the largest magnitude: float32 sums of many products cancel.
    func geometry(batch: Int, cin: Int, cout: Int, h: Int, w: Int, kh: Int, kw: Int, ph: Int, pw: Int,
                  stride: Int = 1) -> ConvolutionGeometry {
        ConvolutionGeometry(batch: batch, inChannels: cin, inHeight: h, inWidth: w, outChannels: cout,
                            kernelHeight: kh, kernelWidth: kw, strideHeight: stride, strideWidth: stride,
                            paddingHeight: ph, paddingWidth: pw)
    }

    @Test(arguments: KernelTarget.allCases)
    func modelLayersWithSeveralBlocksPerThread(target: KernelTarget) throws {
        // Model A conv2 and conv1 shapes: blocks of a few images, so 23 images give several blocks per
        // thread and a partial last one; the kernel is built for 40 and called with 23 and 3.
        for (g, seed) in [(geometry(batch: 40, cin: 16, cout: 32, h: 14, w: 14, kh: 5, kw: 5, ph: 2, pw: 2), 1),
                          (geometry(batch: 40, cin: 1, cout: 16, h: 28, w: 28, kh: 5, kw: 5, ph: 2, pw: 2), 2)] {
            #expect(StackedGrid.supports(g))
            try check(g, batch: 23, seed: UInt64(seed), target: target)
            try check(g, batch: 3, seed: UInt64(seed) + 10, target: target)
        }
    }

    @Test(arguments: KernelTarget.allCases)
    func oddShapesAndFallback(target: KernelTarget) throws {
        let cases = [
            geometry(batch: 9, cin: 3, cout: 7, h: 11, w: 13, kh: 3, kw: 4, ph: 1, pw: 3),  // 36 taps: last tile 1 of 5
            geometry(batch: 9, cin: 5, cout: 10, h: 9, w: 7, kh: 5, kw: 2, ph: 0, pw: 1),
            geometry(batch: 6, cin: 2, cout: 1, h: 5, w: 17, kh: 1, kw: 1, ph: 0, pw: 0),   // pointwise
            geometry(batch: 5, cin: 2, cout: 3, h: 8, w: 8, kh: 3, kw: 3, ph: 3, pw: 1),    // padding ≥ kernel: fallback
            geometry(batch: 5, cin: 2, cout: 5, h: 9, w: 10, kh: 3, kw: 3, ph: 1, pw: 1, stride: 2),  // fallback
        ]
        for (index, g) in cases.enumerated() {
            try check(g, batch: g.batch, seed: 100 + UInt64(index), target: target)
            try check(g, batch: 1, seed: 200 + UInt64(index), target: target)
        }
    }
}
