import Testing
@testable import CNNKernels

/// The kernel targets' declared tiles: each fits its register file, fills whole 16-column groups, and the
/// cache blocking keeps the micro-panels in L1; the override names a target or is refused with the valid ones.
@Suite struct KernelTargetTests {
    @Test(arguments: KernelTarget.allCases)
    func gemmTileFitsTheRegisterFile(target: KernelTarget) {
        let tile = target.gemmTile
        let vectorsPerRow = tile.columns / target.vectorWidth
        #expect(tile.columns % target.vectorWidth == 0)
        #expect(vectorsPerRow == 2 || vectorsPerRow == 4, "the micro-kernels hold rows of 2 or 4 vectors")
        // Accumulators, one row of B, one broadcast of A.
        let live = tile.rows * vectorsPerRow + vectorsPerRow + 1
        #expect(live <= target.vectorRegisters, "\(target): \(live) live vectors in \(target.vectorRegisters) registers")
        #expect(tile.columns % GEMMMicroKernel.columnGroup == 0, "panels hold whole 16-lane groups")
        #expect(tile.rows <= WinogradCorrelation.PanelRows.scalarCount, "Winograd's U panels")
    }

    /// The convolution tiles' accumulators plus what one step of their loop loads fit the register file. A
    /// 16-image lane vector is 16 / vectorWidth registers, run as independent halves (so one half of each
    /// loaded pixel is live at a time); broadcasts are one register each.
    @Test(arguments: KernelTarget.allCases)
    func convolutionTilesFitTheRegisterFile(target: KernelTarget) {
        let registers = target.vectorRegisters, halves = 16 / target.vectorWidth
        let lane = target.laneTile
        #expect(lane.channels * lane.pixels * halves + lane.pixels + lane.channels <= registers, "\(target) lane tile \(lane)")
        #expect(LaneConvolution.blockChannels % lane.channels == 0 && lane.pixels <= LaneConvolution.maximumTilePixels)
        let correlation = target.correlationTile
        #expect(correlation.rows * correlation.inputs * halves + correlation.rows + 1 <= registers,
                "\(target) correlation tile \(correlation)")
        let wide = target.wideTile, channels = WideConvolution.blockChannels
        #expect(channels * wide.vectors + wide.vectors + 1 <= registers, "\(target) wide tile \(wide)")
        #expect(channels * wide.taps + channels + 1 <= registers, "\(target) wide correlation \(wide)")
        #expect(WideGrid.blockPixels % (wide.vectors * target.vectorWidth) == 0 && wide.taps <= WideConvolution.maximumTaps)
    }

    @Test(arguments: KernelTarget.allCases)
    func blockingKeepsPanelsInL1AndIsWholeTiles(target: KernelTarget) {
        let tile = target.gemmTile
        for caches in [HostCaches(l1: 32 << 10, l2: 512 << 10, l3: 32 << 20), HostCaches(l1: 48 << 10, l2: 2 << 20, l3: 260 << 20),
                       HostCaches(l1: 128 << 10, l2: 12 << 20, l3: 0), HostCaches(l1: 1, l2: 1, l3: 1)] {
            let blocking = GEMMBlocking(tile: tile, caches: caches)
            #expect(blocking.mc % tile.rows == 0 && blocking.mc >= tile.rows)
            #expect(blocking.nc % tile.columns == 0 && blocking.nc >= tile.columns)
            #expect(GEMMBlocking.kcRange.contains(blocking.kc) && blocking.kc % GEMMBlocking.kcStep == 0)
            if caches.l1 >= 32 << 10 {
                #expect((tile.rows + tile.columns) * blocking.kc * 4 <= caches.l1, "\(target) \(blocking) in L1 \(caches.l1)")
            }
        }
    }

    @Test func overrideNamesATargetOrIsRefused() throws {
        #expect(try KernelTarget.chosen(override: nil) == KernelTarget.detected)
        #expect(try KernelTarget.chosen(override: "") == KernelTarget.detected)
        for target in KernelTarget.allCases { #expect(try KernelTarget.chosen(override: target.rawValue) == target) }
        #expect(throws: KernelTargetError.self) { try KernelTarget.chosen(override: "avx1024") }
        let message = KernelTargetError(value: "sse").description
        #expect(message.contains("CNNSPEC_KERNELS=sse") && message.contains("avx512, avx2, neon, generic"))
    }

    /// The micro-kernel figure of `cnnspec-bench peak` runs at the depth the GEMM runs on this host, and
    /// computes the tile's product (each C entry is the depth-long dot product of the constant panels).
    @Test(arguments: KernelTarget.allCases)
    func microKernelRateRunsAtTheGEMMsDepth(target: KernelTarget) {
        let kernel = MicroKernelRate(target: target)
        #expect(kernel.depth == GEMMBlocking(tile: target.gemmTile, caches: .host).kc)
        let workspace = UnsafeMutablePointer<Float>.allocate(capacity: kernel.workspaceFloats)
        defer { workspace.deallocate() }
        let panels = (target.gemmTile.rows + target.gemmTile.columns) * kernel.depth
        workspace.initialize(repeating: 0.5, count: panels)
        (workspace + panels).initialize(repeating: -1, count: kernel.workspaceFloats - panels)
        kernel.run(workspace: workspace)
        let tile = UnsafeBufferPointer(start: workspace + panels, count: target.gemmTile.rows * target.gemmTile.columns)
        #expect(tile.allSatisfy { $0 == 0.25 * Float(kernel.depth) })
    }

    @Test func fmaPeakIsMeasuredOnThePoolsThreads() {
        let peak = FMAPeak.gigaflops(on: ThreadPool(threadCount: 1))
        #expect(peak.isFinite && peak > 0)
    }

    /// The log names a direct convolution's whole choice: layout, weight-gradient layout, target and tile.
    @Test(arguments: KernelTarget.allCases)
    func directAlgorithmNamesTheTargetsTile(target: KernelTarget) throws {
        let gemm = GEMM(pool: ThreadPool(threadCount: 1), target: target)
        func algorithm(stride: Int) throws -> String {
            let g = ConvolutionGeometry(batch: 32, inChannels: 16, inHeight: 14, inWidth: 14, outChannels: 32,
                                        kernelHeight: 5, kernelWidth: 5, strideHeight: stride, strideWidth: stride,
                                        paddingTop: 2, paddingBottom: 2, paddingLeft: 2, paddingRight: 2)
            return try makeConvolution(.direct, geometry: g, gemm: gemm).algorithm
        }
        let lane = target.laneTile
        #expect(try algorithm(stride: 1)
                == "direct/lanes (wide for the rest), weights stacked, \(target.rawValue) lane tile \(lane.channels)×\(lane.pixels)")
        let widePixels = target.wideTile.vectors * target.vectorWidth
        #expect(try algorithm(stride: 2) == "direct/wide, weights wide, \(target.rawValue) wide tile 4×\(widePixels)")
    }

    @Test func descriptionNamesTargetAndTile() {
        #expect(KernelTarget.avx2.description == "avx2 6×16")
        #expect(KernelTarget.avx512.description == "avx512 8×32")
        #expect(KernelTarget.largestGEMMTile == GEMMTile(rows: 8, columns: 32))
    }
}
