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

    @Test func descriptionNamesTargetAndTile() {
        #expect(KernelTarget.avx2.description == "avx2 6×16")
        #expect(KernelTarget.avx512.description == "avx512 8×32")
        #expect(KernelTarget.largestGEMMTile == GEMMTile(rows: 8, columns: 32))
    }
}
