/// Copies blocks of op(A) and op(B) into the micro-panel layouts the micro-kernel streams through.
///
/// A block (m×k) → ⌈m/mr⌉ panels, each k steps of mr consecutive rows: `dst[(panel·k + p)·mr + r]`.
/// B block (k×n) → ⌈n/nr⌉ panels, each k steps of nr consecutive columns: `dst[(panel·k + p)·nr + c]`.
/// Rows/columns past the matrix edge are written as zeros. mr and nr are the GEMM's target tile; nr is a
/// multiple of 16 on every target (`Transpose16` blocks and 16-lane image groups fill whole panels).
enum GEMMPacking {
    /// Packs op(A)[row..<row+m, column..<column+k] scaled by alpha. A stored row-major may have its
    /// columns laid out as NCHW images (`columns`, see `CColumns`; `lda` is then the plane).
    @inline(__always)
    static func packA(m: Int, k: Int, a: UnsafePointer<Float>, lda: Int, transposed: Bool,
                      row: Int, column: Int, alpha: Float, mr: Int, into dst: UnsafeMutablePointer<Float>,
                      columns: CColumns = .plain) {
        if transposed {
            packTransposedA(m: m, k: k, a: a + column * lda + row, lda: lda, alpha: alpha, mr: mr, into: dst)
        } else {
            packRowMajorA(m: m, k: k, a: a + row * lda + columns.offset(column), lda: lda, alpha: alpha, mr: mr,
                          into: dst, columns: columns.dropping(columns: column))
        }
    }

    /// op(A)[i][p] = a[p·lda + i]: the mr rows of one step are contiguous, one copy per step.
    @inline(__always)
    static func packTransposedA(m: Int, k: Int, a: UnsafePointer<Float>, lda: Int, alpha: Float, mr: Int,
                                into dst: UnsafeMutablePointer<Float>) {
        var i0 = 0
        var out = dst
        while i0 < m {
            let rows = min(mr, m - i0)
            for p in 0..<k {
                let src = a + p * lda + i0, o = out + p * mr
                for r in 0..<rows { o[r] = alpha * src[r] }
                for r in rows..<mr { o[r] = 0 }
            }
            out += k * mr
            i0 += mr
        }
    }

    /// Rows and steps of the register transpose `packRowMajorA` works in.
    static let transposeBlock = 16

    /// Deals a transposed 16 × 16 block to A panels: `steps[p·16 + r]` is row r at step p, and rows
    /// q·mr ..< (q + 1)·mr go to panel q (`depth`·mr floats after panel q − 1), from `out` (panel 0, the
    /// block's first step) on. Shared by `packRowMajorA` and Winograd's dM panels.
    @inline(__always)
    static func dealSteps(_ steps: UnsafePointer<Float>, panels: Int, mr: Int, depth: Int, into out: UnsafeMutablePointer<Float>) {
        let block = transposeBlock
        for panel in 0..<panels {
            let target = out + panel * mr * depth
            for p in 0..<block {
                let source = steps + p * block + panel * mr
                for r in 0..<mr { target[p * mr + r] = source[r] }
            }
        }
    }

    /// op(A)[i][p] = a[i·lda + p]: a group of whole mr-row panels (as many as fit in 16 rows) at a time,
    /// 16 steps transposed in registers (rows past the edge read as zeros) and then dealt to the panels;
    /// the last k mod 16 steps are copied one by one.
    /// With image `columns` (16-multiple plane, column 0 at a 16-multiple), each 16-step block is contiguous.
    @inline(__always)
    static func packRowMajorA(m: Int, k: Int, a: UnsafePointer<Float>, lda: Int, alpha: Float, mr: Int,
                              into dst: UnsafeMutablePointer<Float>, columns: CColumns = .plain) {
        let block = transposeBlock
        let group = block / mr * mr
        let scale = Transpose16.Row(repeating: alpha)
        let fullSteps = k / block * block
        withUnsafeTemporaryAllocation(of: Float.self, capacity: block * block) { staging in
            let steps = staging.baseAddress!  // invariant: capacity 256
            var i0 = 0
            while i0 < m {
                let rows = min(group, m - i0)
                // Panels this group fills: the last one of the matrix is zero-padded to mr rows.
                let panels = (rows + mr - 1) / mr
                let base = a + i0 * lda
                @inline(__always) func load(_ r: Int, _ p: Int) -> Transpose16.Row {
                    r < rows ? UnsafeRawPointer(base + r * lda + p).loadUnaligned(as: Transpose16.Row.self) * scale
                             : Transpose16.Row()
                }
                var p0 = 0
                while p0 < fullSteps {
                    let q = columns.offset(p0)
                    var v: Transpose16.Block = (load(0, q), load(1, q), load(2, q), load(3, q),
                                                load(4, q), load(5, q), load(6, q), load(7, q),
                                                load(8, q), load(9, q), load(10, q), load(11, q),
                                                load(12, q), load(13, q), load(14, q), load(15, q))
                    v = Transpose16.transpose(v)
                    Transpose16.store(v, into: steps, stride: block)
                    dealSteps(steps, panels: panels, mr: mr, depth: k, into: dst + i0 * k + p0 * mr)
                    p0 += block
                }
                for r in 0..<(panels * mr) {
                    let out = dst + (i0 + r / mr * mr) * k + r % mr
                    if r < rows {
                        let src = base + r * lda
                        for p in fullSteps..<k { out[p * mr] = alpha * src[columns.offset(p)] }
                    } else {
                        for p in fullSteps..<k { out[p * mr] = 0 }
                    }
                }
                i0 += group
            }
        }
    }

    /// Packs op(B)[row..<row+k, column..<column+n] into nr-column panels.
    @inline(__always)
    static func packB(k: Int, n: Int, b: UnsafePointer<Float>, ldb: Int, transposed: Bool,
                      row: Int, column: Int, nr: Int, into dst: UnsafeMutablePointer<Float>) {
        let block = transposeBlock
        var panel = 0
        var j0 = 0
        while j0 < n {
            let columns = min(nr, n - j0)
            let out = dst + panel * k * nr
            if transposed && columns == nr {
                // op(B)[p][j] = b[j·ldb + p]: 16 steps × 16 columns at a time, transposed in registers.
                let src = b + (column + j0) * ldb + row
                var p0 = 0
                while p0 + block <= k {
                    for c0 in stride(from: 0, to: nr, by: block) {
                        Transpose16.transpose(src + c0 * ldb + p0, stride: ldb, into: out + p0 * nr + c0, outStride: nr)
                    }
                    p0 += block
                }
                for cIndex in 0..<nr {
                    let line = src + cIndex * ldb
                    for p in p0..<k { out[p * nr + cIndex] = line[p] }
                }
            } else if transposed {
                // Partial panel: read each column contiguously, write with stride nr.
                for cIndex in 0..<columns {
                    let src = b + (column + j0 + cIndex) * ldb + row
                    for p in 0..<k { out[p * nr + cIndex] = src[p] }
                }
                for p in 0..<k { for cIndex in columns..<nr { out[p * nr + cIndex] = 0 } }
            } else if columns == nr {
                // Whole panel rows: one 16-float load and store per group (nr is a multiple of 16).
                for p in 0..<k {
                    let src = UnsafeRawPointer(b + (row + p) * ldb + column + j0)
                    let o = UnsafeMutableRawPointer(out + p * nr)
                    for offset in stride(from: 0, to: nr * MemoryLayout<Float>.stride, by: MemoryLayout<Transpose16.Row>.stride) {
                        o.storeBytes(of: src.loadUnaligned(fromByteOffset: offset, as: Transpose16.Row.self), toByteOffset: offset,
                                     as: Transpose16.Row.self)
                    }
                }
            } else {
                for p in 0..<k {
                    let src = b + (row + p) * ldb + column + j0
                    let o = out + p * nr
                    o.update(from: src, count: columns)
                    for cIndex in columns..<nr { o[cIndex] = 0 }
                }
            }
            panel += 1
            j0 += nr
        }
    }
}
