/// Row-major SGEMM with caller-visible transposes. Owns its packing buffers (allocated once in init, per thread).
///
/// Blocked after the BLIS/Goto scheme: for each nc-wide column block and kc-deep slice of op(B), the
/// slice is packed into nr-column micro-panels; for each mc-tall block of op(A), the block is packed into
/// mr-row micro-panels (with alpha folded in); the target's micro-kernel (`KernelTarget.microKernel`) then
/// multiplies one A micro-panel with one B micro-panel in registers. The tile (mr × nr) and the blocking come
/// from the `KernelTarget` the GEMM is built for. Edges are zero-padded in the packed panels, so the
/// micro-kernel always runs full tiles. Inside the module op(B)
/// may also be a convolution's patches (`OperandB.patches`), packed from the images without a lowered matrix.
///
/// One call at a time per instance (it runs on `pool` and reuses its packing buffers); the convolution
/// kernels built with a GEMM share it and must not run concurrently with each other either.
public final class GEMM: @unchecked Sendable {
    /// The instruction set whose micro-kernel and tile this GEMM runs.
    public let target: KernelTarget
    /// Depth of one packed slice (rows of op(B), columns of op(A)).
    let kc: Int
    /// Rows of op(A) per packed block.
    let mc: Int
    /// Columns of op(B) per packed block.
    let nc: Int
    /// Micro-tile rows and columns.
    let mr: Int
    let nr: Int

    public let pool: ThreadPool
    /// Per-thread packing buffers, indexed by task (= thread slot) number.
    private let packedA: [UnsafeMutablePointer<Float>]
    private let packedB: [UnsafeMutablePointer<Float>]

    public init(pool: ThreadPool, target: KernelTarget = .current) {
        self.pool = pool
        self.target = target
        let tile = target.gemmTile, blocking = target.blocking
        mr = tile.rows; nr = tile.columns
        kc = blocking.kc; mc = blocking.mc; nc = blocking.nc
        var aBuffers: [UnsafeMutablePointer<Float>] = []
        var bBuffers: [UnsafeMutablePointer<Float>] = []
        for _ in 0..<pool.threadCount {
            aBuffers.append(GEMM.allocateAligned(blocking.mc * blocking.kc))
            bBuffers.append(GEMM.allocateAligned(blocking.kc * blocking.nc))
        }
        packedA = aBuffers
        packedB = bBuffers
    }

    deinit {
        for buffer in packedA { buffer.deallocate() }
        for buffer in packedB { buffer.deallocate() }
        sharedScratch.forEach { $0.deallocate() }
    }

    /// Number of independent packing-buffer slots; `multiplySerial` may run on slots 0..<slotCount concurrently.
    var slotCount: Int { packedA.count }

    /// Scratch that the convolution kernels built on this GEMM share, one region per slot: they never run at
    /// once, so a plan needs the largest kernel's scratch, not the sum (Winograd's bands at ResNet's 512
    /// channels take 34 MB per thread). Grown by `reserveSharedScratch` while kernels are built; a kernel reads
    /// `sharedScratch` at each pass, since a later kernel's reservation may have moved the regions.
    private(set) var sharedScratch: [UnsafeMutablePointer<Float>] = []
    private var sharedScratchFloats = 0

    /// Makes every slot's shared scratch at least `floats` long (zeroed when it grows). Only while building
    /// kernels, never during a pass.
    func reserveSharedScratch(floats: Int) {
        if floats <= sharedScratchFloats { return }
        sharedScratch.forEach { $0.deallocate() }
        sharedScratch = (0..<slotCount).map { _ in
            let buffer = GEMM.allocateAligned(floats)
            buffer.initialize(repeating: 0, count: max(floats, 16))
            return buffer
        }
        sharedScratchFloats = floats
    }

    static func allocateAligned(_ count: Int) -> UnsafeMutablePointer<Float> {
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 16) * 4, alignment: 64)
        return raw.bindMemory(to: Float.self, capacity: max(count, 16))
    }

    /// C[m×n] = alpha·op(A)·op(B) + beta·C. op(A) is m×k: A stored m×k (lda) or, if transposeA, stored k×m.
    /// op(B) is k×n: B stored k×n (ldb) or, if transposeB, stored n×k. beta 0 ignores C's old contents (NaN-safe).
    public func multiply(m: Int, n: Int, k: Int,
                         a: UnsafePointer<Float>, lda: Int, transposeA: Bool,
                         b: UnsafePointer<Float>, ldb: Int, transposeB: Bool,
                         c: UnsafeMutablePointer<Float>, ldc: Int, alpha: Float = 1, beta: Float = 0) {
        multiply(m: m, n: n, k: k, a: a, lda: lda, transposeA: transposeA,
                 b: .matrix(b, ldb: ldb, transposed: transposeB), c: c, ldc: ldc, alpha: alpha, beta: beta)
    }

    /// `multiply` with op(B) given as an `OperandB` (a stored matrix or a batch's patches), and C optionally
    /// laid out as NCHW images (`cImages`, see `CColumns`; then `ldc` is the channel stride, the plane).
    func multiply(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, transposeA: Bool, b: OperandB,
                  c: UnsafeMutablePointer<Float>, ldc: Int, alpha: Float = 1, beta: Float = 0,
                  cImages: CColumns = .plain, aImages: CColumns = .plain) {
        precondition(aImages.plane == 0 || !transposeA, "image columns need a row-major A")
        if m <= 0 || n <= 0 { return }
        let threads = pool.threadCount
        let work = m * n * max(k, 1)
        let nPanels = (n + nr - 1) / nr
        let mPanels = (m + mr - 1) / mr
        if threads == 1 || work < 200_000 || (nPanels < 2 && mPanels < 2) {
            multiplySerial(slot: 0, m: m, n: n, k: k, a: a, lda: lda, transposeA: transposeA,
                           b: b, c: c, ldc: ldc, alpha: alpha, beta: beta, cColumns: cImages, aColumns: aImages)
            return
        }
        // Split the dimension with more micro-panels; chunks are whole micro-panels.
        let splitN = nPanels >= mPanels || nPanels >= 4 * threads
        let panels = splitN ? nPanels : mPanels
        let tasks = min(threads, panels)
        let split = PanelSplit(gemm: Unmanaged.passUnretained(self), splitN: splitN, panels: panels, tasks: tasks,
                               m: m, n: n, k: k, a: a, lda: lda, transposeA: transposeA, b: b,
                               c: c, ldc: ldc, alpha: alpha, beta: beta, cColumns: cImages, aColumns: aImages)
        pool.run(tasks: tasks, context: split) { raw, task in raw.load(as: PanelSplit.self).run(task: task) }
    }

    /// One `multiply` split over whole micro-panels of N (or M): task `t` computes panels
    /// `panels·t/tasks ..< panels·(t+1)/tasks` with packing buffers `t`. Read by C-convention pool tasks,
    /// hence the unretained reference (the caller keeps the GEMM alive until `run` returns).
    private struct PanelSplit {
        let gemm: Unmanaged<GEMM>
        let splitN: Bool, panels: Int, tasks: Int
        let m: Int, n: Int, k: Int
        let a: UnsafePointer<Float>, lda: Int, transposeA: Bool
        let b: OperandB
        let c: UnsafeMutablePointer<Float>, ldc: Int
        let alpha: Float, beta: Float
        let cColumns: CColumns
        let aColumns: CColumns

        func run(task: Int) {
            let first = panels * task / tasks
            let last = panels * (task + 1) / tasks
            if first >= last { return }
            let gemm = gemm.takeUnretainedValue()
            if splitN {
                let j0 = first * gemm.nr
                let j1 = min(n, last * gemm.nr)
                gemm.multiplySerial(slot: task, m: m, n: j1 - j0, k: k, a: a, lda: lda, transposeA: transposeA,
                                    b: b.dropping(columns: j0), c: c + cColumns.offset(j0), ldc: ldc, alpha: alpha,
                                    beta: beta, cColumns: cColumns.dropping(columns: j0), aColumns: aColumns)
            } else {
                let i0 = first * gemm.mr
                let i1 = min(m, last * gemm.mr)
                let aOffset = transposeA ? i0 : i0 * lda
                gemm.multiplySerial(slot: task, m: i1 - i0, n: n, k: k, a: a + aOffset, lda: lda, transposeA: transposeA,
                                    b: b, c: c + i0 * ldc, ldc: ldc, alpha: alpha, beta: beta, cColumns: cColumns,
                                    aColumns: aColumns)
            }
        }
    }

    /// Same contract as `multiply`, on the calling thread only, using packing buffers `slot`
    /// (callers running inside a pool task pass their task number, which is < `slotCount`).
    func multiplySerial(slot: Int, m: Int, n: Int, k: Int,
                        a: UnsafePointer<Float>, lda: Int, transposeA: Bool,
                        b: UnsafePointer<Float>, ldb: Int, transposeB: Bool,
                        c: UnsafeMutablePointer<Float>, ldc: Int, alpha: Float, beta: Float) {
        multiplySerial(slot: slot, m: m, n: n, k: k, a: a, lda: lda, transposeA: transposeA,
                       b: .matrix(b, ldb: ldb, transposed: transposeB), c: c, ldc: ldc, alpha: alpha, beta: beta)
    }

    /// `multiplySerial` with op(B) given as an `OperandB`.
    /// `c` points at C's column 0; column j lives at `cColumns.offset(j)` past it (A's column p at
    /// `aColumns.offset(p)` past row start).
    func multiplySerial(slot: Int, m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, transposeA: Bool,
                        b: OperandB, c: UnsafeMutablePointer<Float>, ldc: Int, alpha: Float, beta: Float,
                        cColumns: CColumns = .plain, aColumns: CColumns = .plain) {
        if m <= 0 || n <= 0 { return }
        if k <= 0 || alpha == 0 {
            if cColumns.plane == 0 {
                GEMM.scale(m: m, n: n, c: c, ldc: ldc, beta: beta)
            } else {
                for j in 0..<n { GEMM.scale(m: m, n: 1, c: c + cColumns.offset(j), ldc: ldc, beta: beta) }
            }
            return
        }
        let aPack = packedA[slot]
        let bPack = packedB[slot]
        var jc = 0
        while jc < n {
            let ncCur = min(nc, n - jc)
            var pc = 0
            while pc < k {
                let kcCur = min(kc, k - pc)
                switch b {
                case .matrix(let matrix, let ldb, let transposed):
                    GEMMPacking.packB(k: kcCur, n: ncCur, b: matrix, ldb: ldb, transposed: transposed,
                                      row: pc, column: jc, nr: nr, into: bPack)
                case .patches(let patches) where patches.transposed:
                    patches.packTransposed(k: kcCur, n: ncCur, row: pc, column: jc, nr: nr, into: bPack)
                case .patches(let patches):
                    patches.pack(k: kcCur, n: ncCur, row: pc, column: jc, nr: nr, into: bPack)
                }
                let overwrite = pc == 0 && beta == 0
                let cScale: Float = pc == 0 ? beta : 1
                var ic = 0
                while ic < m {
                    let mcCur = min(mc, m - ic)
                    GEMMPacking.packA(m: mcCur, k: kcCur, a: a, lda: lda, transposed: transposeA,
                                      row: ic, column: pc, alpha: alpha, mr: mr, into: aPack, columns: aColumns)
                    macroKernel(m: mcCur, n: ncCur, k: kcCur, aPack: aPack, bPack: bPack,
                                c: c + ic * ldc, column: jc, ldc: ldc, cColumns: cColumns,
                                overwrite: overwrite, cScale: cScale)
                    ic += mcCur
                }
                pc += kcCur
            }
            jc += ncCur
        }
    }

    @inline(__always)
    private func macroKernel(m: Int, n: Int, k: Int, aPack: UnsafeMutablePointer<Float>,
                             bPack: UnsafeMutablePointer<Float>, c: UnsafeMutablePointer<Float>, column: Int, ldc: Int,
                             cColumns: CColumns, overwrite: Bool, cScale: Float) {
        var jr = 0
        while jr < n {
            let nrCur = min(nr, n - jr)
            let bPanel = bPack + jr * k
            let low = cColumns.offset(column + jr)
            let high = cColumns.offset(column + jr + GEMMMicroKernel.columnGroup) - low
            var ir = 0
            while ir < m {
                let mrCur = min(mr, m - ir)
                target.microKernel(k: k, a: aPack + ir * k, b: bPanel, c: c + ir * ldc + low, ldc: ldc,
                                   rows: mrCur, columns: nrCur, overwrite: overwrite, cScale: cScale, high: high)
                ir += mr
            }
            jr += nr
        }
    }

    /// C = beta·C (beta 0 writes zeros without reading C).
    static func scale(m: Int, n: Int, c: UnsafeMutablePointer<Float>, ldc: Int, beta: Float) {
        for i in 0..<m {
            let row = c + i * ldc
            if beta == 0 {
                row.update(repeating: 0, count: n)
            } else if beta != 1 {
                for j in 0..<n { row[j] *= beta }
            }
        }
    }
}

/// Where C's columns live: `plain` (column j at j) or, for a convolution's output written straight into
/// NCHW, `images(plane:imageStride:)`: column j = image·plane + pixel at image·imageStride + pixel (rows,
/// the channels, `ldc` = plane apart). Saves the copy of a [channels, images·plane] product into NCHW.
/// Requires a plane that is a multiple of `GEMMMicroKernel.columnGroup` (each group of a micro-tile's columns
/// stays in one image).
struct CColumns {
    /// 0 for plain.
    let plane: Int
    let imageStride: Int
    /// Column of the whole product that this one's column 0 is (a thread's share starts past 0).
    let first: Int

    static let plain = CColumns(plane: 0, imageStride: 0, first: 0)

    static func images(plane: Int, imageStride: Int) -> CColumns {
        precondition(plane % GEMMMicroKernel.columnGroup == 0, "CColumns.images needs a column-group-multiple plane")
        return CColumns(plane: plane, imageStride: imageStride, first: 0)
    }

    /// Element offset of column j from column 0.
    @inline(__always)
    func offset(_ j: Int) -> Int {
        if plane == 0 { return j }
        let a = first + j, b = first
        return (a / plane - b / plane) * imageStride + a % plane - b % plane
    }

    func dropping(columns j: Int) -> CColumns {
        plane == 0 ? self : CColumns(plane: plane, imageStride: imageStride, first: first + j)
    }
}

/// Where op(B) comes from: a stored matrix, or the patches of a chunk of images packed straight from
/// the images (implicit im2col, `PatchPanels`).
enum OperandB {
    case matrix(UnsafePointer<Float>, ldb: Int, transposed: Bool)
    case patches(PatchPanels)

    /// The operand from op(B) column `j` on (a thread's share of the columns).
    func dropping(columns j: Int) -> OperandB {
        switch self {
        case .matrix(let b, let ldb, let transposed):
            .matrix(transposed ? b + j * ldb : b + j, ldb: ldb, transposed: transposed)
        case .patches(let patches):
            .patches(patches.dropping(columns: j))
        }
    }
}

extension Int {
    /// The smallest multiple of `multiple` (> 0) that is ≥ self (≥ 0): panel-padded sizes.
    func roundedUp(toMultipleOf multiple: Int) -> Int { (self + multiple - 1) / multiple * multiple }
}
