@testable import CNNKernels
import PyTorchFixtures
import Testing

/// The direct backend's blocks of 16 images in SIMD lanes (`LaneConvolution`), against the Float64
/// reference: batches with and without a wide-grid remainder, 1 and 2 threads, kernel sizes that leave
/// 1-, 2- and 4-pixel tiles (4 in a row or 2 × 2 over two rows), asymmetric padding, channel counts that are not multiples of 4.
@Suite struct LaneConvolutionTests {
    static let geometries: [ConvolutionGeometry] = [
        // Model A's cnn2 with fewer channels: 5×5 "same", 14 = 4 + 4 + 4 + 2 output columns.
        ConvolutionGeometry(batch: 50, inChannels: 3, inHeight: 14, inWidth: 14, outChannels: 6,
                            kernelHeight: 5, kernelWidth: 5, strideHeight: 1, strideWidth: 1,
                            paddingHeight: 2, paddingWidth: 2),
        // One input channel, no padding, 7 = 4 + 2 + 1 output columns, a 3×2 kernel.
        ConvolutionGeometry(batch: 50, inChannels: 1, inHeight: 9, inWidth: 8, outChannels: 5,
                            kernelHeight: 3, kernelWidth: 2, strideHeight: 1, strideWidth: 1,
                            paddingHeight: 0, paddingWidth: 0),
        // Asymmetric padding (top 0, bottom 1, left 1, right 2) and 1×1 output rows of a 1×3 kernel.
        ConvolutionGeometry(batch: 50, inChannels: 4, inHeight: 6, inWidth: 5, outChannels: 9,
                            kernelHeight: 2, kernelWidth: 3, strideHeight: 1, strideWidth: 1,
                            paddingTop: 0, paddingBottom: 1, paddingLeft: 1, paddingRight: 2),
        // 10 = 4 + 4 + 2 columns over 7 rows: 2 × 2 tail tiles over row pairs (their padded taps skipped
        // for the union of both rows), the last row's tail a 2-pixel tile.
        ConvolutionGeometry(batch: 50, inChannels: 2, inHeight: 7, inWidth: 10, outChannels: 4,
                            kernelHeight: 3, kernelWidth: 3, strideHeight: 1, strideWidth: 1,
                            paddingHeight: 1, paddingWidth: 1),
    ]

    @Test(arguments: [(1, 16), (1, 35), (2, 50), (2, 35)], KernelTarget.allCases)
    func lanesMatchReference(case: (threads: Int, batch: Int), target: KernelTarget) throws {
        let (threads, batch) = `case`
        let gemm = GEMM(pool: ThreadPool(threadCount: threads), target: target)
        var random = TestRandom(seed: UInt64(31 * threads + batch))
        for g in Self.geometries {
            let kernel = try #require(try makeConvolution(.direct, geometry: g, gemm: gemm) as? DirectConvolution)
            let expectedBlocks = threads == 2 ? (batch / 16) / 2 * 2 : batch / 16
            #expect(kernel.laneBlocks(batch: batch) == expectedBlocks, "\(g) batch \(batch)")
            let run = ConvolutionRun(kernel: kernel)
            for (pass, error) in run.errorsAgainstReference(batch: batch, random: &random, floor: Self.floor) {
                #expect(error < 1e-3, "\(threads) threads, batch \(batch), \(g) \(pass), \(target)")
            }
        }
    }

    /// Absolute floor of the relative error: 0.1 % of the largest magnitude (float32 sums of signed products
    /// cancel), far below what a wrong tap, lane or channel would change.
    static func floor(_ values: [Float]) -> Float { max(1e-3, 1e-3 * (values.map { abs($0) }.max() ?? 0)) }

    /// Which images run in lanes: whole blocks, an even share per thread, the rest on the wide grid.
    @Test func splitSharesWholeBlocksEvenly() {
        let split = LaneSplit(batch: 100, threads: 2, lanesAllowed: true)
        #expect(split.blocks == 6 && split.blocks(part: 0) == 0..<3 && split.blocks(part: 1) == 3..<6)
        #expect(split.wideImages(part: 0) == 96..<98 && split.wideImages(part: 1) == 98..<100)
        let odd = LaneSplit(batch: 50, threads: 2, lanesAllowed: true)
        #expect(odd.blocks == 2 && odd.wideImages(part: 0) == 32..<41 && odd.wideImages(part: 1) == 41..<50)
        #expect(LaneSplit(batch: 20, threads: 2, lanesAllowed: true).blocks == 0)
        #expect(LaneSplit(batch: 20, threads: 1, lanesAllowed: true).blocks == 1)
        #expect(LaneSplit(batch: 100, threads: 2, lanesAllowed: false).blocks == 0)
        let few = LaneSplit(batch: 1, threads: 2, lanesAllowed: true)
        #expect(few.parts == 1 && few.wideImages(part: 0) == 0..<1)
    }

    @Test func stridedGroupedAndDilatedLayersStayOnTheWideGrid() {
        func geometry(stride: Int = 1, groups: Int = 1, dilation: Int = 1, padding: Int = 1) -> ConvolutionGeometry {
            ConvolutionGeometry(batch: 64, inChannels: 4, inHeight: 8, inWidth: 8, outChannels: 4,
                                kernelHeight: 3, kernelWidth: 3, strideHeight: stride, strideWidth: stride,
                                paddingHeight: padding, paddingWidth: padding, dilationHeight: dilation,
                                dilationWidth: dilation, groups: groups)
        }
        #expect(LaneGrid.supports(geometry()))
        #expect(!LaneGrid.supports(geometry(stride: 2)))
        #expect(!LaneGrid.supports(geometry(groups: 2)))
        #expect(!LaneGrid.supports(geometry(dilation: 2)))
        #expect(!LaneGrid.supports(geometry(padding: 3)))
    }
}
