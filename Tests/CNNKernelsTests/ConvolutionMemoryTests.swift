import CAllocationCounter
@testable import CNNKernels
import Testing

/// Every backend's memory statement (`ConvolutionBackendKind.memory`, made before anything is allocated)
/// against the bytes building its kernel keeps, as the allocator saw them: at least those, and not absurdly
/// more. The plan's memory estimate is the sum of these statements.
@Suite struct ConvolutionMemoryTests {
    /// Allocator overhead per block and the kernel objects' own small allocations (headers, Swift arrays).
    static let slackBytes = 16.0 * 1024
    /// How far above the allocated bytes a statement may be: an upper bound, not a guess (Winograd's, which sizes
    /// its bands from the larger of input and output, is the loosest).
    static let largestRatio = 2.0

    static func geometry(batch: Int, channels: (Int, Int), side: (Int, Int), kernel: Int, stride: Int = 1, padding: Int,
                         groups: Int = 1, dilation: Int = 1, mode: ConvolutionPaddingMode = .zeros) -> ConvolutionGeometry {
        ConvolutionGeometry(batch: batch, inChannels: channels.0, inHeight: side.0, inWidth: side.1, outChannels: channels.1,
                            kernelHeight: kernel, kernelWidth: kernel, strideHeight: stride, strideWidth: stride,
                            paddingHeight: padding, paddingWidth: padding, dilationHeight: dilation, dilationWidth: dilation,
                            groups: groups, paddingMode: mode)
    }

    /// A few geometries per path: lanes and stacked grids (direct), per-image and batched lowering (im2col),
    /// pointwise, strided, grouped, dilated, depthwise, 3×3 (Winograd), a padding stage, Model A's layers (Toeplitz).
    static let cases: [ConvolutionGeometry] = [
        geometry(batch: 4, channels: (1, 16), side: (28, 28), kernel: 5, padding: 2),
        geometry(batch: 4, channels: (16, 32), side: (14, 14), kernel: 5, padding: 2),
        geometry(batch: 64, channels: (8, 8), side: (8, 8), kernel: 3, padding: 1),
        geometry(batch: 16, channels: (32, 64), side: (4, 4), kernel: 3, padding: 1),
        geometry(batch: 8, channels: (16, 24), side: (12, 12), kernel: 1, padding: 0),
        geometry(batch: 6, channels: (8, 12), side: (15, 15), kernel: 3, stride: 2, padding: 1),
        geometry(batch: 5, channels: (8, 8), side: (10, 10), kernel: 3, padding: 1, groups: 8),
        geometry(batch: 5, channels: (8, 16), side: (10, 10), kernel: 3, padding: 2, groups: 8, dilation: 2),
        geometry(batch: 3, channels: (6, 9), side: (9, 7), kernel: 3, padding: 1, groups: 3),
        geometry(batch: 4, channels: (4, 8), side: (9, 9), kernel: 3, padding: 1, mode: .reflect),
    ]

    /// Bytes that `build` allocated on this thread and did not free, and what it built (kept alive until then).
    static func keptBytes<T>(_ build: () throws -> T) rethrows -> (T, Double) {
        cnnspec_count_this_thread(1)
        defer { cnnspec_count_this_thread(0) }
        let before = cnnspec_this_thread_live_bytes()
        let built = try build()
        return (built, Double(cnnspec_this_thread_live_bytes() - before))
    }

    @Test(arguments: ConvolutionBackendKind.allCases)
    func statementBoundsWhatTheBuildAllocates(_ kind: ConvolutionBackendKind) throws {
        var built = 0
        for g in Self.cases {
            let gemm = GEMM(pool: ThreadPool(threadCount: 2))  // fresh: Winograd's shared scratch is allocated again
            let stated = kind.memory(geometry: g, threads: gemm.slotCount)
            let (kernel, allocated) = Self.keptBytes { try? makeConvolution(kind, geometry: g, gemm: gemm) }
            guard let kernel else {
                #expect(stated == nil, "\(kind) refuses \(g) but states \(String(describing: stated))")
                continue
            }
            let statement = try #require(stated, "\(kind) builds \(g) but states nothing")
            built += 1
            #expect(allocated > 0 && kernel.kind == kind)
            #expect(statement.totalBytes + Self.slackBytes >= allocated,
                    "\(kind) \(g): states \(statement.totalBytes) bytes, allocates \(allocated)")
            #expect(statement.totalBytes <= Self.largestRatio * allocated + Self.slackBytes,
                    "\(kind) \(g): states \(statement.totalBytes) bytes, allocates only \(allocated)")
        }
        #expect(built >= 2, "\(kind) must build some of the cases")
    }

    /// What a statement counts as kept from step to step: Toeplitz's matrix, Winograd's U and U'.
    @Test func persistentBytesAreTheKeptWeights() throws {
        let modelA = Self.cases[1]
        let toeplitz = try #require(ConvolutionBackendKind.toeplitz.memory(geometry: modelA, threads: 2))
        #expect(toeplitz.persistentBytes == 4 * Double(modelA.outputImageSize * modelA.inputImageSize))
        let threeByThree = Self.cases[2]
        let winograd = try #require(ConvolutionBackendKind.winograd.memory(geometry: threeByThree, threads: 2))
        #expect(winograd.persistentBytes == 4 * WinogradConvolution.transformedWeightFloats(threeByThree))
        #expect(ConvolutionBackendKind.winograd.memory(geometry: modelA, threads: 2) == nil, "5×5 is refused")
        #expect(ConvolutionBackendKind.im2col.memory(geometry: modelA, threads: 2)?.persistentBytes == 0)
    }
}
