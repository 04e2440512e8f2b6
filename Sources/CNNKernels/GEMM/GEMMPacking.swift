/// Copies blocks of op(A) and op(B) into the micro-panel layouts the micro-kernel streams through.
///
/// A block (m×k) → ⌈m/8⌉ panels, each k steps of 8 consecutive rows: `dst[(panel·k + p)·8 + r]`.
/// B block (k×n) → ⌈n/32⌉ panels, each k steps of 32 consecutive columns: `dst[(panel·k + p)·32 + c]`.
/// Rows/columns past the matrix edge are written as zeros.
enum GEMMPacking {
    /// Packs op(A)[row..<row+m, column..<column+k] scaled by alpha. A stored row-major may have its
    /// columns laid out as NCHW images (`columns`, see `CColumns`; `lda` is then the plane).
    @inline(__always)
    static func packA(m: Int, k: Int, a: UnsafePointer<Float>, lda: Int, transposed: Bool,
                      row: Int, column: Int, alpha: Float, into dst: UnsafeMutablePointer<Float>,
                      columns: CColumns = .plain) {
        if transposed {
            packTransposedA(m: m, k: k, a: a + column * lda + row, lda: lda, alpha: alpha, into: dst)
        } else {
            packRowMajorA(m: m, k: k, a: a + row * lda + columns.offset(column), lda: lda, alpha: alpha, into: dst,
                          columns: columns.dropping(columns: column))
        }
    }

    /// op(A)[i][p] = a[p·lda + i]: the 8 rows of one step are contiguous, one SIMD8 copy per step.
    @inline(__always)
    static func packTransposedA(m: Int, k: Int, a: UnsafePointer<Float>, lda: Int, alpha: Float,
                                into dst: UnsafeMutablePointer<Float>) {
        let mr = GEMM.mr
        let scale = SIMD8<Float>(repeating: alpha)
        var i0 = 0
        var out = dst
        while i0 < m {
            let rows = min(mr, m - i0)
            if rows == mr {
                for p in 0..<k {
                    let value = UnsafeRawPointer(a + p * lda + i0).loadUnaligned(as: SIMD8<Float>.self)
                    UnsafeMutableRawPointer(out + p * mr).storeBytes(of: value * scale, as: SIMD8<Float>.self)
                }
            } else {
                for p in 0..<k {
                    let src = a + p * lda + i0, o = out + p * mr
                    for r in 0..<rows { o[r] = alpha * src[r] }
                    for r in rows..<mr { o[r] = 0 }
                }
            }
            out += k * mr
            i0 += mr
        }
    }

    /// op(A)[i][p] = a[i·lda + p]: two 8-row panels at a time, 16 rows × 16 steps transposed in
    /// registers (rows past the edge read as zeros); the last k mod 16 steps are copied one by one.
    @inline(__always)
    /// With image `columns` (16-multiple plane, column 0 at a 16-multiple), each 16-step block is contiguous.
    static func packRowMajorA(m: Int, k: Int, a: UnsafePointer<Float>, lda: Int, alpha: Float,
                              into dst: UnsafeMutablePointer<Float>, columns: CColumns = .plain) {
        let mr = GEMM.mr, pair = 2 * mr
        let scale = SIMD16<Float>(repeating: alpha)
        let fullSteps = k / 16 * 16
        var i0 = 0
        while i0 < m {
            let rows = min(pair, m - i0)
            let low = dst + i0 * k, high = low + k * mr
            let base = a + i0 * lda
            @inline(__always) func load(_ r: Int, _ p: Int) -> SIMD16<Float> {
                r < rows ? UnsafeRawPointer(base + r * lda + p).loadUnaligned(as: SIMD16<Float>.self) * scale
                         : SIMD16<Float>()
            }
            var p0 = 0
            while p0 < fullSteps {
                let q = columns.offset(p0)
                var v: Transpose16.Block = (load(0, q), load(1, q), load(2, q), load(3, q),
                                  load(4, q), load(5, q), load(6, q), load(7, q),
                                  load(8, q), load(9, q), load(10, q), load(11, q),
                                  load(12, q), load(13, q), load(14, q), load(15, q))
                v = Transpose16.transpose(v)
                // v.p holds rows 0..<16 at step p0 + p: low half → first panel, high half → second.
                @inline(__always) func store(_ p: Int, _ step: SIMD16<Float>) {
                    UnsafeMutableRawPointer(low + (p0 + p) * mr).storeBytes(of: step.lowHalf, as: SIMD8<Float>.self)
                    if rows > mr {
                        UnsafeMutableRawPointer(high + (p0 + p) * mr).storeBytes(of: step.highHalf, as: SIMD8<Float>.self)
                    }
                }
                store(0, v.0); store(1, v.1); store(2, v.2); store(3, v.3)
                store(4, v.4); store(5, v.5); store(6, v.6); store(7, v.7)
                store(8, v.8); store(9, v.9); store(10, v.10); store(11, v.11)
                store(12, v.12); store(13, v.13); store(14, v.14); store(15, v.15)
                p0 += 16
            }
            // Rows of the panels that exist (the second only past 8 rows), zeros past the edge.
            for r in 0..<(rows > mr ? pair : mr) {
                let out = (r < mr ? low : high) + r % mr
                if r < rows {
                    let src = base + r * lda
                    for p in fullSteps..<k { out[p * mr] = alpha * src[columns.offset(p)] }
                } else {
                    for p in fullSteps..<k { out[p * mr] = 0 }
                }
            }
            i0 += pair
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
            if transposed && columns == nr {
                // op(B)[p][j] = b[j·ldb + p]: 16 steps × 16 columns at a time, transposed in registers.
                let src = b + (column + j0) * ldb + row
                var p0 = 0
                while p0 + 16 <= k {
                    Transpose16.transpose(src + p0, stride: ldb, into: out + p0 * nr, outStride: nr)
                    Transpose16.transpose(src + 16 * ldb + p0, stride: ldb, into: out + p0 * nr + 16, outStride: nr)
                    p0 += 16
                }
                for cIndex in 0..<nr {
                    let line = src + cIndex * ldb
                    for p in p0..<k { out[p * nr + cIndex] = line[p] }
                }
            } else if transposed {
                // Partial panel: read each column contiguously, write with stride 32.
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
