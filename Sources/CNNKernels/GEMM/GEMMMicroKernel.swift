/// The 8×32 register tile: 16 `SIMD16<Float>` accumulators fed by one packed A panel (8 rows per step)
/// and one packed B panel (32 columns per step).
enum GEMMMicroKernel {
    /// Computes the 8×32 product of the panels over `k` steps and writes the top-left `rows`×`columns`
    /// of it to C: `C = acc` when `overwrite`, else `C = cScale·C + acc`. Columns 16..<32 of a C row live
    /// `high` elements past its column 0 (16 for a plain matrix; elsewhere when C is NCHW images, `CColumns`).
    @inline(__always)
    static func run(k: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
                    c: UnsafeMutablePointer<Float>, ldc: Int, rows: Int, columns: Int,
                    overwrite: Bool, cScale: Float, high: Int = 16) {
        var c00 = SIMD16<Float>(), c01 = SIMD16<Float>()
        var c10 = SIMD16<Float>(), c11 = SIMD16<Float>()
        var c20 = SIMD16<Float>(), c21 = SIMD16<Float>()
        var c30 = SIMD16<Float>(), c31 = SIMD16<Float>()
        var c40 = SIMD16<Float>(), c41 = SIMD16<Float>()
        var c50 = SIMD16<Float>(), c51 = SIMD16<Float>()
        var c60 = SIMD16<Float>(), c61 = SIMD16<Float>()
        var c70 = SIMD16<Float>(), c71 = SIMD16<Float>()
        var ap = a
        var bp = UnsafeRawPointer(b)
        for _ in 0..<k {
            let b0 = bp.load(as: SIMD16<Float>.self)
            let b1 = bp.load(fromByteOffset: 64, as: SIMD16<Float>.self)
            var s = SIMD16<Float>(repeating: ap[0])
            c00 = c00.addingProduct(s, b0); c01 = c01.addingProduct(s, b1)
            s = SIMD16<Float>(repeating: ap[1])
            c10 = c10.addingProduct(s, b0); c11 = c11.addingProduct(s, b1)
            s = SIMD16<Float>(repeating: ap[2])
            c20 = c20.addingProduct(s, b0); c21 = c21.addingProduct(s, b1)
            s = SIMD16<Float>(repeating: ap[3])
            c30 = c30.addingProduct(s, b0); c31 = c31.addingProduct(s, b1)
            s = SIMD16<Float>(repeating: ap[4])
            c40 = c40.addingProduct(s, b0); c41 = c41.addingProduct(s, b1)
            s = SIMD16<Float>(repeating: ap[5])
            c50 = c50.addingProduct(s, b0); c51 = c51.addingProduct(s, b1)
            s = SIMD16<Float>(repeating: ap[6])
            c60 = c60.addingProduct(s, b0); c61 = c61.addingProduct(s, b1)
            s = SIMD16<Float>(repeating: ap[7])
            c70 = c70.addingProduct(s, b0); c71 = c71.addingProduct(s, b1)
            ap += 8
            bp += 128
        }
        if rows == GEMM.mr && columns == GEMM.nr {
            store(c00, c01, to: c, high: high, overwrite: overwrite, cScale: cScale)
            store(c10, c11, to: c + ldc, high: high, overwrite: overwrite, cScale: cScale)
            store(c20, c21, to: c + 2 * ldc, high: high, overwrite: overwrite, cScale: cScale)
            store(c30, c31, to: c + 3 * ldc, high: high, overwrite: overwrite, cScale: cScale)
            store(c40, c41, to: c + 4 * ldc, high: high, overwrite: overwrite, cScale: cScale)
            store(c50, c51, to: c + 5 * ldc, high: high, overwrite: overwrite, cScale: cScale)
            store(c60, c61, to: c + 6 * ldc, high: high, overwrite: overwrite, cScale: cScale)
            store(c70, c71, to: c + 7 * ldc, high: high, overwrite: overwrite, cScale: cScale)
            return
        }
        // Edge tile: spill to a stack tile, then write the valid part.
        withUnsafeTemporaryAllocation(of: SIMD16<Float>.self, capacity: 16) { tile in
            tile[0] = c00; tile[1] = c01; tile[2] = c10; tile[3] = c11
            tile[4] = c20; tile[5] = c21; tile[6] = c30; tile[7] = c31
            tile[8] = c40; tile[9] = c41; tile[10] = c50; tile[11] = c51
            tile[12] = c60; tile[13] = c61; tile[14] = c70; tile[15] = c71
            let values = UnsafeRawPointer(tile.baseAddress!).assumingMemoryBound(to: Float.self)  // invariant: capacity 16
            for r in 0..<rows {
                let row = c + r * ldc
                let source = values + r * GEMM.nr
                for j in 0..<columns {
                    let target = row + (j < 16 ? j : high + j - 16)
                    target.pointee = overwrite ? source[j] : target.pointee * cScale + source[j]
                }
            }
        }
    }

    @inline(__always)
    private static func store(_ low: SIMD16<Float>, _ highValues: SIMD16<Float>, to row: UnsafeMutablePointer<Float>,
                              high: Int, overwrite: Bool, cScale: Float) {
        let raw = UnsafeMutableRawPointer(row), rawHigh = UnsafeMutableRawPointer(row + high)
        if overwrite {
            raw.storeBytes(of: low, as: SIMD16<Float>.self)
            rawHigh.storeBytes(of: highValues, as: SIMD16<Float>.self)
        } else {
            let old0 = raw.loadUnaligned(as: SIMD16<Float>.self)
            let old1 = rawHigh.loadUnaligned(as: SIMD16<Float>.self)
            raw.storeBytes(of: low.addingProduct(old0, cScale), as: SIMD16<Float>.self)
            rawHigh.storeBytes(of: highValues.addingProduct(old1, cScale), as: SIMD16<Float>.self)
        }
    }
}
