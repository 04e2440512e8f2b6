/// The GEMM micro-kernels: one register tile of C = A_panel · B_panel, generic over the vector type so that
/// each kernel target (`KernelTargetSpec`) instantiates it with its own vector width and row count. A tile
/// row is `vectorsPerRow` vectors of B (2 or 4), its rows are broadcast elements of A; every accumulator is
/// a named local so it stays in a register (the unused ones, for targets with fewer rows, fold away).
///
/// Packed layouts (`GEMMPacking`): A panel k steps of `tileRows` floats, B panel k steps of one tile row.
/// C: row r at `c + r·ldc`; column j at `(j / 16)·high + j % 16` past its row start, so a 32-column tile
/// may write its second 16 columns elsewhere (`CColumns.images`), and narrower tiles stay in one group.
enum GEMMMicroKernel {
    /// C columns in one contiguous group (`high` moves the next group).
    static let columnGroup = 16

    /// One micro-kernel call's arguments, run by `KernelTarget.visit` with the target's spec.
    struct Call: KernelTargetVisitor {
        let k: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>, ldc: Int
        let rows: Int, columns: Int, overwrite: Bool, cScale: Float, high: Int

        @inline(__always)
        func visit<Spec: KernelTargetSpec>(_ spec: Spec.Type) {
            GEMMMicroKernel.run(spec, k: k, a: a, b: b, c: c, ldc: ldc, rows: rows, columns: columns, overwrite: overwrite,
                                cScale: cScale, high: high)
        }
    }

    /// The micro-kernel of target `Spec`: its tile as 2 or 4 vectors per row.
    @inline(__always)
    static func run<Spec: KernelTargetSpec>(_ spec: Spec.Type, k: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
                                            c: UnsafeMutablePointer<Float>, ldc: Int, rows: Int, columns: Int,
                                            overwrite: Bool, cScale: Float, high: Int) {
        let vectors = Spec.gemmColumns / Spec.Vector.scalarCount
        precondition(vectors == 2 || vectors == 4, "a GEMM tile row is 2 or 4 vectors")  // invariant: the targets' constants
        if vectors == 2 {
            twoVectorRows(rows: Spec.gemmRows, Spec.Vector.self, k: k, a: a, b: b, c: c, ldc: ldc, rows: rows,
                          columns: columns, overwrite: overwrite, cScale: cScale, high: high)
        } else {
            fourVectorRows(rows: Spec.gemmRows, Spec.Vector.self, k: k, a: a, b: b, c: c, ldc: ldc, rows: rows,
                           columns: columns, overwrite: overwrite, cScale: cScale, high: high)
        }
    }

    /// Tiles of up to 8 rows × 2 vectors (16 accumulators): AVX-512's 8×32 and AVX2's 6×16.
    @inline(__always)
    static func twoVectorRows<V: SIMD>(rows tileRows: Int, _ : V.Type, k: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
                          c: UnsafeMutablePointer<Float>, ldc: Int, rows: Int, columns: Int, overwrite: Bool,
                          cScale: Float, high: Int) where V.Scalar == Float {
        precondition(tileRows <= 8, "twoVectorRows holds at most 8 rows")  // invariant: the targets' constants
        var c00 = V(), c01 = V()
        var c10 = V(), c11 = V()
        var c20 = V(), c21 = V()
        var c30 = V(), c31 = V()
        var c40 = V(), c41 = V()
        var c50 = V(), c51 = V()
        var c60 = V(), c61 = V()
        var c70 = V(), c71 = V()
        var ap = a, bp = UnsafeRawPointer(b)
        let stride = MemoryLayout<V>.stride
        for _ in 0..<k {
            let b0 = bp.load(as: V.self); let b1 = bp.load(fromByteOffset: 1 * stride, as: V.self)
            do { let s = V(repeating: ap[0]); c00 = c00.addingProduct(s, b0); c01 = c01.addingProduct(s, b1) }
            if tileRows > 1 { let s = V(repeating: ap[1]); c10 = c10.addingProduct(s, b0); c11 = c11.addingProduct(s, b1) }
            if tileRows > 2 { let s = V(repeating: ap[2]); c20 = c20.addingProduct(s, b0); c21 = c21.addingProduct(s, b1) }
            if tileRows > 3 { let s = V(repeating: ap[3]); c30 = c30.addingProduct(s, b0); c31 = c31.addingProduct(s, b1) }
            if tileRows > 4 { let s = V(repeating: ap[4]); c40 = c40.addingProduct(s, b0); c41 = c41.addingProduct(s, b1) }
            if tileRows > 5 { let s = V(repeating: ap[5]); c50 = c50.addingProduct(s, b0); c51 = c51.addingProduct(s, b1) }
            if tileRows > 6 { let s = V(repeating: ap[6]); c60 = c60.addingProduct(s, b0); c61 = c61.addingProduct(s, b1) }
            if tileRows > 7 { let s = V(repeating: ap[7]); c70 = c70.addingProduct(s, b0); c71 = c71.addingProduct(s, b1) }
            ap += tileRows
            bp += 2 * stride
        }
        withUnsafeTemporaryAllocation(of: V.self, capacity: 16) { tile in
            do { tile[0] = c00; tile[1] = c01 }
            if tileRows > 1 { tile[2] = c10; tile[3] = c11 }
            if tileRows > 2 { tile[4] = c20; tile[5] = c21 }
            if tileRows > 3 { tile[6] = c30; tile[7] = c31 }
            if tileRows > 4 { tile[8] = c40; tile[9] = c41 }
            if tileRows > 5 { tile[10] = c50; tile[11] = c51 }
            if tileRows > 6 { tile[12] = c60; tile[13] = c61 }
            if tileRows > 7 { tile[14] = c70; tile[15] = c71 }
            GEMMMicroKernel.store(tile: tile.baseAddress!, vectorsPerRow: 2, tileRows: tileRows, c: c, ldc: ldc,  // invariant: capacity 16
                                  rows: rows, columns: columns, overwrite: overwrite, cScale: cScale, high: high)
        }
    }

    /// Tiles of up to 6 rows × 4 vectors (24 accumulators): NEON's 6×16 and the generic 2×16, in 4-float vectors.
    @inline(__always)
    static func fourVectorRows<V: SIMD>(rows tileRows: Int, _ : V.Type, k: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
                          c: UnsafeMutablePointer<Float>, ldc: Int, rows: Int, columns: Int, overwrite: Bool,
                          cScale: Float, high: Int) where V.Scalar == Float {
        precondition(tileRows <= 6, "fourVectorRows holds at most 6 rows")  // invariant: the targets' constants
        var c00 = V(), c01 = V(), c02 = V(), c03 = V()
        var c10 = V(), c11 = V(), c12 = V(), c13 = V()
        var c20 = V(), c21 = V(), c22 = V(), c23 = V()
        var c30 = V(), c31 = V(), c32 = V(), c33 = V()
        var c40 = V(), c41 = V(), c42 = V(), c43 = V()
        var c50 = V(), c51 = V(), c52 = V(), c53 = V()
        var ap = a, bp = UnsafeRawPointer(b)
        let stride = MemoryLayout<V>.stride
        for _ in 0..<k {
            let b0 = bp.load(as: V.self); let b1 = bp.load(fromByteOffset: 1 * stride, as: V.self); let b2 = bp.load(fromByteOffset: 2 * stride, as: V.self); let b3 = bp.load(fromByteOffset: 3 * stride, as: V.self)
            do { let s = V(repeating: ap[0]); c00 = c00.addingProduct(s, b0); c01 = c01.addingProduct(s, b1); c02 = c02.addingProduct(s, b2); c03 = c03.addingProduct(s, b3) }
            if tileRows > 1 { let s = V(repeating: ap[1]); c10 = c10.addingProduct(s, b0); c11 = c11.addingProduct(s, b1); c12 = c12.addingProduct(s, b2); c13 = c13.addingProduct(s, b3) }
            if tileRows > 2 { let s = V(repeating: ap[2]); c20 = c20.addingProduct(s, b0); c21 = c21.addingProduct(s, b1); c22 = c22.addingProduct(s, b2); c23 = c23.addingProduct(s, b3) }
            if tileRows > 3 { let s = V(repeating: ap[3]); c30 = c30.addingProduct(s, b0); c31 = c31.addingProduct(s, b1); c32 = c32.addingProduct(s, b2); c33 = c33.addingProduct(s, b3) }
            if tileRows > 4 { let s = V(repeating: ap[4]); c40 = c40.addingProduct(s, b0); c41 = c41.addingProduct(s, b1); c42 = c42.addingProduct(s, b2); c43 = c43.addingProduct(s, b3) }
            if tileRows > 5 { let s = V(repeating: ap[5]); c50 = c50.addingProduct(s, b0); c51 = c51.addingProduct(s, b1); c52 = c52.addingProduct(s, b2); c53 = c53.addingProduct(s, b3) }
            ap += tileRows
            bp += 4 * stride
        }
        withUnsafeTemporaryAllocation(of: V.self, capacity: 24) { tile in
            do { tile[0] = c00; tile[1] = c01; tile[2] = c02; tile[3] = c03 }
            if tileRows > 1 { tile[4] = c10; tile[5] = c11; tile[6] = c12; tile[7] = c13 }
            if tileRows > 2 { tile[8] = c20; tile[9] = c21; tile[10] = c22; tile[11] = c23 }
            if tileRows > 3 { tile[12] = c30; tile[13] = c31; tile[14] = c32; tile[15] = c33 }
            if tileRows > 4 { tile[16] = c40; tile[17] = c41; tile[18] = c42; tile[19] = c43 }
            if tileRows > 5 { tile[20] = c50; tile[21] = c51; tile[22] = c52; tile[23] = c53 }
            GEMMMicroKernel.store(tile: tile.baseAddress!, vectorsPerRow: 4, tileRows: tileRows, c: c, ldc: ldc,  // invariant: capacity 24
                                  rows: rows, columns: columns, overwrite: overwrite, cScale: cScale, high: high)
        }
    }

    /// Writes the top-left `rows`×`columns` of the spilled tile (`tileRows` rows of `vectorsPerRow` vectors) to
    /// C: `C = tile` when `overwrite`, else `C = cScale·C + tile`. Full tiles go by vectors, edges element-wise.
    @inline(__always)
    static func store<V: SIMD>(tile: UnsafeMutablePointer<V>, vectorsPerRow: Int, tileRows: Int, c: UnsafeMutablePointer<Float>,
                               ldc: Int, rows: Int, columns: Int, overwrite: Bool, cScale: Float, high: Int)
    where V.Scalar == Float {
        let width = V.scalarCount, tileColumns = vectorsPerRow * width
        if rows == tileRows && columns == tileColumns {
            for r in 0..<tileRows {
                let row = c + r * ldc
                for v in 0..<vectorsPerRow {
                    let j = v * width
                    let target = UnsafeMutableRawPointer(row + (j / columnGroup) * high + j % columnGroup)
                    let value = tile[r * vectorsPerRow + v]
                    if overwrite {
                        target.storeBytes(of: value, as: V.self)
                    } else {
                        target.storeBytes(of: value.addingProduct(target.loadUnaligned(as: V.self), cScale), as: V.self)
                    }
                }
            }
            return
        }
        let values = UnsafeRawPointer(tile).assumingMemoryBound(to: Float.self)
        for r in 0..<rows {
            let row = c + r * ldc, source = values + r * tileColumns
            for j in 0..<columns {
                let target = row + (j / columnGroup) * high + j % columnGroup
                target.pointee = overwrite ? source[j] : target.pointee * cScale + source[j]
            }
        }
    }
}
