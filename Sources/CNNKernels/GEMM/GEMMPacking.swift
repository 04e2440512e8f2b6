/// Copies blocks of op(A) and op(B) into the micro-panel layouts the micro-kernel streams through.
///
/// A block (m×k) → ⌈m/8⌉ panels, each k steps of 8 consecutive rows: `dst[(panel·k + p)·8 + r]`.
/// B block (k×n) → ⌈n/32⌉ panels, each k steps of 32 consecutive columns: `dst[(panel·k + p)·32 + c]`.
/// Rows/columns past the matrix edge are written as zeros.
enum GEMMPacking {
    /// Packs op(A)[row..<row+m, column..<column+k] scaled by alpha.
    @inline(__always)
    static func packA(m: Int, k: Int, a: UnsafePointer<Float>, lda: Int, transposed: Bool,
                      row: Int, column: Int, alpha: Float, into dst: UnsafeMutablePointer<Float>) {
        let mr = GEMM.mr
        var panel = 0
        var i0 = 0
        while i0 < m {
            let rows = min(mr, m - i0)
            let out = dst + panel * k * mr
            if transposed {
                // op(A)[i][p] = a[p·lda + i]: the 8 rows of one step are contiguous.
                for p in 0..<k {
                    let src = a + (column + p) * lda + row + i0
                    let o = out + p * mr
                    if rows == mr {
                        for r in 0..<mr { o[r] = alpha * src[r] }
                    } else {
                        for r in 0..<rows { o[r] = alpha * src[r] }
                        for r in rows..<mr { o[r] = 0 }
                    }
                }
            } else {
                for r in 0..<rows {
                    let src = a + (row + i0 + r) * lda + column
                    if alpha == 1 {
                        for p in 0..<k { out[p * mr + r] = src[p] }
                    } else {
                        for p in 0..<k { out[p * mr + r] = alpha * src[p] }
                    }
                }
                if rows < mr {
                    for r in rows..<mr { for p in 0..<k { out[p * mr + r] = 0 } }
                }
            }
            panel += 1
            i0 += mr
        }
    }

    /// Packs op(B)[row..<row+k, column..<column+n].
    @inline(__always)
    static func packB(k: Int, n: Int, b: UnsafePointer<Float>, ldb: Int, transposed: Bool,
                      row: Int, column: Int, into dst: UnsafeMutablePointer<Float>) {
        let nr = GEMM.nr
        var panel = 0
        var j0 = 0
        while j0 < n {
            let columns = min(nr, n - j0)
            let out = dst + panel * k * nr
            if transposed {
                // op(B)[p][j] = b[j·ldb + p]: read each column contiguously, write with stride 32.
                for cIndex in 0..<columns {
                    let src = b + (column + j0 + cIndex) * ldb + row
                    for p in 0..<k { out[p * nr + cIndex] = src[p] }
                }
                if columns < nr {
                    for p in 0..<k { for cIndex in columns..<nr { out[p * nr + cIndex] = 0 } }
                }
            } else if columns == nr {
                for p in 0..<k {
                    let src = UnsafeRawPointer(b + (row + p) * ldb + column + j0)
                    let o = UnsafeMutableRawPointer(out + p * nr)
                    o.storeBytes(of: src.loadUnaligned(as: SIMD16<Float>.self), as: SIMD16<Float>.self)
                    o.storeBytes(of: src.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self),
                                 toByteOffset: 64, as: SIMD16<Float>.self)
                }
            } else {
                for p in 0..<k {
                    let src = b + (row + p) * ldb + column + j0
                    let o = out + p * nr
                    for cIndex in 0..<columns { o[cIndex] = src[cIndex] }
                    for cIndex in columns..<nr { o[cIndex] = 0 }
                }
            }
            panel += 1
            j0 += nr
        }
    }
}
