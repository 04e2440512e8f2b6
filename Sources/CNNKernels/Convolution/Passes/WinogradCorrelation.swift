/// The 3×3 stride-1 correlation of a batch, `out[n][o][y][x] = Σ_i Σ_kh,kw in[n][i][y − padTop + kh][x − padLeft + kw]
/// · g[o][i][kh][kw] (+ bias[o])`, by Winograd's minimal filtering F(2×2, 3×3) (Lavin & Gray, 2016): every 2×2
/// output tile is `Aᵀ [Σ_i U_oi ⊙ V_i] A` with `U = G g Gᵀ` and `V = Bᵀ d B` for the tile's 4×4 input patch d.
/// 16 multiply-adds per tile and channel pair instead of 36: the sum over i is 16 independent GEMMs (one per
/// position ξ of the 4×4 transformed tile) of `U[ξ][o][i]` with `V[ξ][i][tile]`, run by the GEMM's micro-kernel.
///
/// Layout, chosen so no transform needs a shuffle: 16 images side by side in the lanes of a `SIMD16` (the
/// `LaneGrid` layout), so a transformed tile is 16 vectors for 16 images. A *strip* is one row of tiles of one
/// group of 16 images; a *band* is a few consecutive strips, one thread's unit of work:
/// input rows → lanes (register transposes) → V, written straight as the micro-kernel's packed B panels
/// (nr columns = nr/16 tiles × 16 images) → 16 GEMMs against U (packed once per weight change as A panels) →
/// M → output transform → lanes → NCHW rows. Each thread keeps its band's V and M; nothing is shared but U.
///
/// The transforms are exact in real arithmetic (only ±1 and ½ factors); in floating point the result differs
/// from the direct sum by rounding only (≈1e-6 relative, like any other summation order).
final class WinogradCorrelation {
    /// Transformed-tile positions (4 × 4).
    static let positions = 16
    /// Output pixels per tile side (F(2×2, 3×3)).
    static let tileSide = 2
    /// Tiles a band aims at: 16 tiles × 16 images = 256 GEMM columns (8 of AVX-512's 32-column panels).
    static let targetTiles = 16

    let inChannels: Int, outChannels: Int
    let inHeight: Int, inWidth: Int, outHeight: Int, outWidth: Int
    let padTop: Int, padLeft: Int
    /// Tiles per column and per row of an image.
    let tileRows: Int, tileColumns: Int
    /// The GEMM whose micro-kernel runs the products, and its tile rows, columns and depth slice.
    let gemm: GEMM
    let mr: Int, nr: Int, kc: Int
    /// Output channels rounded up to the micro-kernel's rows (U and M carry zero rows past `outChannels`).
    let paddedOut: Int
    /// Input columns a strip reads: 2·tileColumns + 2 (the last tile's 4-wide patch).
    let stripWidth: Int
    /// An image group's input in lanes, padded on every side to the tiles' reach (2·tileRows + 2 rows of
    /// `stripWidth` columns), so a strip's 4 rows are consecutive rows of it.
    let inputGrid: LaneGrid
    /// Strips per band at most, and GEMM columns of a band's V and M (a multiple of nr).
    let stripsPerBand: Int
    let bandColumns: Int
    let threads: Int
    let pool: ThreadPool
    /// U[ξ][o/8][i][o%8]: the transformed weights as the micro-kernel's A panels.
    let u: UnsafeMutablePointer<Float>

    /// Floats of one thread's scratch: V, M, the output strip, the group's input grid and the plane
    /// `LaneGrid.place` transposes through.
    var scratchFloats: Int {
        WinogradCorrelation.positions * (inChannels + paddedOut) * bandColumns + outputStripFloats + inputGrid.count
            + inHeight * inWidth * LaneGrid.lanes
    }

    /// Floats of the output strip: 2 rows of 2·tileColumns pixels in lanes.
    var outputStripFloats: Int { 2 * WinogradCorrelation.tileSide * tileColumns * LaneGrid.lanes }

    init(inChannels: Int, outChannels: Int, inHeight: Int, inWidth: Int, outHeight: Int, outWidth: Int,
         padTop: Int, padLeft: Int, maximumBatch: Int, gemm: GEMM) {
        self.inChannels = inChannels; self.outChannels = outChannels
        self.inHeight = inHeight; self.inWidth = inWidth; self.outHeight = outHeight; self.outWidth = outWidth
        self.padTop = padTop; self.padLeft = padLeft
        self.gemm = gemm
        pool = gemm.pool
        mr = gemm.mr; nr = gemm.nr; kc = gemm.kc
        threads = pool.threadCount
        let side = WinogradCorrelation.tileSide
        tileRows = (outHeight + side - 1) / side
        tileColumns = (outWidth + side - 1) / side
        paddedOut = outChannels.roundedUp(toMultipleOf: mr)
        stripWidth = side * tileColumns + 2
        inputGrid = LaneGrid(channels: inChannels, rows: side * tileRows + 2, width: stripWidth)
        let strips = WinogradCorrelation.strips(batch: maximumBatch, tileRows: tileRows)
        stripsPerBand = WinogradCorrelation.stripsPerBand(strips: strips, tileColumns: tileColumns, threads: threads)
        bandColumns = (stripsPerBand * tileColumns * LaneGrid.lanes).roundedUp(toMultipleOf: nr)
        u = GEMM.allocateAligned(WinogradCorrelation.positions * paddedOut * inChannels)
    }

    deinit { u.deallocate() }

    /// Strips of `batch` images: one per tile row of each 16-image group.
    static func strips(batch: Int, tileRows: Int) -> Int {
        (batch + LaneGrid.lanes - 1) / LaneGrid.lanes * tileRows
    }

    /// Bands of `strips` strips (`stripsPerBand` each, the last one shorter).
    func bands(strips: Int) -> Int { (strips + stripsPerBand - 1) / stripsPerBand }

    /// The strips of band `band`.
    func strips(ofBand band: Int, strips: Int) -> Range<Int> {
        band * stripsPerBand ..< min(strips, (band + 1) * stripsPerBand)
    }

    /// Enough strips for `targetTiles` tiles, but no fewer bands than threads when the batch allows.
    private static func stripsPerBand(strips: Int, tileColumns: Int, threads: Int) -> Int {
        let wanted = max(1, targetTiles / max(tileColumns, 1))
        let balanced = max(1, strips / max(threads, 1))
        return max(1, min(wanted, balanced))
    }

    // MARK: - Weights

    /// U = G g Gᵀ for every (o, i), packed as A panels. `flipped` reads g as the transposed, rotated weights of
    /// the layer whose data gradient this correlation is: `g[o][i][kh][kw] = w[i][o][2 − kh][2 − kw]` with w
    /// stored [inChannels][outChannels][3][3]; otherwise `g = w` stored [outChannels][inChannels][3][3].
    func transformWeights(_ weight: UnsafePointer<Float>, flipped: Bool) {
        let job = WeightJob(correlation: Unmanaged.passUnretained(self), weight: weight, flipped: flipped)
        let panels = paddedOut / mr
        pool.forEachPart(of: panels, parts: min(threads, panels), context: job) { raw, _, start, end in
            let job = raw.load(as: WeightJob.self)
            job.correlation.takeUnretainedValue().transformWeights(job.weight, flipped: job.flipped, panels: start..<end)
        }
    }

    private struct WeightJob {
        let correlation: Unmanaged<WinogradCorrelation>
        let weight: UnsafePointer<Float>
        let flipped: Bool
    }

    private func transformWeights(_ weight: UnsafePointer<Float>, flipped: Bool, panels: Range<Int>) {
        let rows = mr, taps = 9, positionStride = paddedOut * inChannels
        precondition(rows <= WinogradCorrelation.PanelRows.scalarCount, "U's panels hold at most 8 rows")  // invariant: the targets' tiles
        for panel in panels {
            for i in 0..<inChannels {
                // g[r][c] for the panel's 8 output channels, one lane each (zero past outChannels).
                var g0 = PanelRows(), g1 = PanelRows(), g2 = PanelRows()
                var g3 = PanelRows(), g4 = PanelRows(), g5 = PanelRows()
                var g6 = PanelRows(), g7 = PanelRows(), g8 = PanelRows()
                for lane in 0..<rows {
                    let o = panel * rows + lane
                    if o >= outChannels { break }
                    // Tap k of g: tap k of w, or tap 8 − k of w[i][o] (rotated by 180°) when flipped.
                    let source = flipped ? weight + (i * outChannels + o) * taps + taps - 1 : weight + (o * inChannels + i) * taps
                    let step = flipped ? -1 : 1
                    g0[lane] = source[0]; g1[lane] = source[step]; g2[lane] = source[2 * step]
                    g3[lane] = source[3 * step]; g4[lane] = source[4 * step]; g5[lane] = source[5 * step]
                    g6[lane] = source[6 * step]; g7[lane] = source[7 * step]; g8[lane] = source[8 * step]
                }
                // t = G g (rows), then U = t Gᵀ (columns); G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1].
                let half = PanelRows(repeating: 0.5)
                // A whole vector store spills past a panel narrower than the vector into the next channels'
                // rows, which those channels overwrite next; the last ones, whose spill would leave the panel,
                // store their rows alone.
                let whole = i * rows + PanelRows.scalarCount <= inChannels * rows
                let t0 = (g0, g1, g2)
                let t1 = (half * (g0 + g3 + g6), half * (g1 + g4 + g7), half * (g2 + g5 + g8))
                let t2 = (half * (g0 - g3 + g6), half * (g1 - g4 + g7), half * (g2 - g5 + g8))
                let t3 = (g6, g7, g8)
                let target = u + panel * inChannels * rows + i * rows
                @inline(__always) func row(_ r: Int, _ t: (PanelRows, PanelRows, PanelRows)) {
                    let base = target + 4 * r * positionStride
                    store(t.0, base, rows: rows, whole: whole)
                    store(half * (t.0 + t.1 + t.2), base + positionStride, rows: rows, whole: whole)
                    store(half * (t.0 - t.1 + t.2), base + 2 * positionStride, rows: rows, whole: whole)
                    store(t.2, base + 3 * positionStride, rows: rows, whole: whole)
                }
                row(0, t0); row(1, t1); row(2, t2); row(3, t3)
            }
        }
    }

    /// The output channels of one U panel at one (ξ, i), one lane each (the tile's rows, at most 8).
    typealias PanelRows = SIMD8<Float>

    @inline(__always)
    private func store(_ value: PanelRows, _ target: UnsafeMutablePointer<Float>, rows: Int, whole: Bool) {
        if whole {
            UnsafeMutableRawPointer(target).storeBytes(of: value, as: PanelRows.self)
        } else {
            for lane in 0..<rows { target[lane] = value[lane] }
        }
    }

    // MARK: - Correlation

    /// `output = correlation(input) (+ bias)` for `batch` images with the U of the last `transformWeights`.
    /// `scratch[slot]` holds `scratchFloats` floats (64-byte aligned) per pool thread.
    func run(batch: Int, input: UnsafePointer<Float>, bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>,
             scratch: [UnsafeMutablePointer<Float>]) {
        if batch <= 0 { return }
        let strips = WinogradCorrelation.strips(batch: batch, tileRows: tileRows), bands = bands(strips: strips)
        scratch.withUnsafeBufferPointer { buffers in
            let job = RunJob(correlation: Unmanaged.passUnretained(self), batch: batch, strips: strips, input: input,
                             bias: bias, output: output, scratch: buffers.baseAddress!)  // invariant: one per thread
            pool.forEachPart(of: bands, parts: min(threads, bands), context: job) { raw, part, start, end in
                let job = raw.load(as: RunJob.self)
                let correlation = job.correlation.takeUnretainedValue()
                var filledGroup = -1
                for band in start..<end {
                    correlation.run(band: band, job: job, scratch: job.scratch[part], filledGroup: &filledGroup)
                }
            }
        }
    }

    private struct RunJob {
        let correlation: Unmanaged<WinogradCorrelation>
        let batch: Int, strips: Int
        let input: UnsafePointer<Float>
        let bias: UnsafePointer<Float>?
        let output: UnsafeMutablePointer<Float>
        let scratch: UnsafePointer<UnsafeMutablePointer<Float>>
    }

    /// One band: its strips' input transforms into V, the 16 products into M, the output transforms.
    /// `filledGroup`: the image group whose input the thread's grid holds (-1: none yet).
    private func run(band: Int, job: RunJob, scratch: UnsafeMutablePointer<Float>, filledGroup: inout Int) {
        let positions = WinogradCorrelation.positions, lanes = LaneGrid.lanes
        let v = scratch
        let m = v + positions * inChannels * bandColumns
        let outStrip = m + positions * paddedOut * bandColumns
        let grid = outStrip + outputStripFloats, planeScratch = grid + inputGrid.count
        let bandStrips = strips(ofBand: band, strips: job.strips)
        for s in bandStrips {
            transformInput(strip: s, firstStrip: bandStrips.lowerBound, input: job.input, batch: job.batch, grid: grid,
                           planeScratch: planeScratch, filledGroup: &filledGroup, layout: panelLayout, into: v)
        }
        multiply(v: v, m: m, columns: (bandStrips.count * tileColumns * lanes).roundedUp(toMultipleOf: nr))
        for s in bandStrips {
            let group = s / tileRows, tileRow = s % tileRows
            let images = min(lanes, job.batch - group * lanes)
            let firstTile = (s - bandStrips.lowerBound) * tileColumns
            for o in 0..<outChannels {
                transformOutput(m, channel: o, firstTile: firstTile, into: outStrip)
                storeStrip(outStrip, group: group, images: images, channel: o, tileRow: tileRow,
                           shift: job.bias?[o] ?? 0, output: job.output)
            }
        }
    }

    /// V of every channel for strip `s` of the band that starts at `firstStrip`, in `layout`. The strip's image
    /// group is placed into the input grid first unless the grid holds it already (`filledGroup`); returns
    /// whether it was placed.
    @discardableResult
    func transformInput(strip s: Int, firstStrip: Int, input: UnsafePointer<Float>, batch: Int,
                        grid: UnsafeMutablePointer<Float>, planeScratch: UnsafeMutablePointer<Float>,
                        filledGroup: inout Int, layout: VLayout, into v: UnsafeMutablePointer<Float>) -> Bool {
        let group = s / tileRows, tileRow = s % tileRows, firstTile = (s - firstStrip) * tileColumns
        let placed = filledGroup != group
        if placed {
            WinogradCorrelation.place(input, group: group, batch: batch, in: inputGrid, height: inHeight, width: inWidth,
                                      offsetY: padTop, offsetX: padLeft, scratch: planeScratch, into: grid)
            filledGroup = group
        }
        for i in 0..<inChannels {
            transformInput(stripRows(grid, channel: i, tileRow: tileRow), channel: i, firstTile: firstTile,
                           layout: layout, into: v)
        }
        return placed
    }

    /// Image group `group` of `tensor` ([batch][grid.channels][height][width]) into `grid`'s block at row
    /// `offsetY`, column `offsetX` (`LaneGrid.place`; the padding and the lanes past the batch are zero).
    static func place(_ tensor: UnsafePointer<Float>, group: Int, batch: Int, in grid: LaneGrid, height: Int, width: Int,
                      offsetY: Int, offsetX: Int, scratch: UnsafeMutablePointer<Float>, into block: UnsafeMutablePointer<Float>) {
        let lanes = LaneGrid.lanes, imageStride = grid.channels * height * width
        grid.place(tensor + group * lanes * imageStride, imageStride: imageStride, sourceChannels: grid.channels,
                   height: height, width: width, offsetY: offsetY, offsetX: offsetX,
                   images: min(lanes, batch - group * lanes), scratch: scratch, into: block)
    }

    /// The first of strip `tileRow`'s 4 rows of `channel` in the input grid (the others follow it).
    @inline(__always)
    func stripRows(_ grid: UnsafePointer<Float>, channel: Int, tileRow: Int) -> UnsafePointer<Float> {
        grid + channel * inputGrid.plane + WinogradCorrelation.tileSide * tileRow * stripWidth * LaneGrid.lanes
    }

    /// Where `transformInput` stores: V[ξ] at ξ·inChannels·bandColumns, then channel c's 16 lanes of tile t at
    /// c·channelStride + (t / tilesPerGroup)·groupStride + (t % tilesPerGroup)·16.
    struct VLayout {
        let channelStride: Int, groupStride: Int, tilesPerGroup: Int
    }

    /// The forward GEMMs' B panels: V[ξ][tile / (nr/16)][channel][nr].
    var panelLayout: VLayout {
        VLayout(channelStride: nr, groupStride: inChannels * nr, tilesPerGroup: nr / LaneGrid.lanes)
    }
    /// Rows of band columns: V[ξ][channel][tile·16 + lane].
    var rowLayout: VLayout { VLayout(channelStride: bandColumns, groupStride: LaneGrid.lanes, tilesPerGroup: 1) }

    /// V = Bᵀ d B for every tile of a strip (d its 4×4 patch), Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1],
    /// stored in `layout`.
    @inline(__always)
    func transformInput(_ strip: UnsafePointer<Float>, channel: Int, firstTile: Int, layout: VLayout,
                        into v: UnsafeMutablePointer<Float>) {
        let lanes = LaneGrid.lanes, rowFloats = stripWidth * lanes
        let positionStride = inChannels * bandColumns
        let raw = UnsafeRawPointer(strip)
        @inline(__always) func load(_ r: Int, _ x: Int) -> SIMD16<Float> {
            raw.load(fromByteOffset: 4 * (r * rowFloats + x * lanes), as: SIMD16<Float>.self)
        }
        for tx in 0..<tileColumns {
            let x = WinogradCorrelation.tileSide * tx
            let tile = firstTile + tx
            let base = UnsafeMutableRawPointer(v + tile / layout.tilesPerGroup * layout.groupStride
                                               + channel * layout.channelStride + tile % layout.tilesPerGroup * lanes)
            // Rows: t_r = (Bᵀ d)_r for the patch's 4 columns.
            @inline(__always) func columns(_ c: Int) -> (SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>) {
                let d0 = load(0, x + c), d1 = load(1, x + c), d2 = load(2, x + c), d3 = load(3, x + c)
                return (d0 - d2, d1 + d2, d2 - d1, d1 - d3)
            }
            let c0 = columns(0), c1 = columns(1), c2 = columns(2), c3 = columns(3)
            @inline(__always) func put(_ xi: Int, _ value: SIMD16<Float>) {
                base.storeBytes(of: value, toByteOffset: 4 * xi * positionStride, as: SIMD16<Float>.self)
            }
            // Columns: V_r· = (t B)_r for each transformed row r.
            @inline(__always) func row(_ r: Int, _ t0: SIMD16<Float>, _ t1: SIMD16<Float>, _ t2: SIMD16<Float>,
                                       _ t3: SIMD16<Float>) {
                put(4 * r, t0 - t2); put(4 * r + 1, t1 + t2); put(4 * r + 2, t2 - t1); put(4 * r + 3, t1 - t3)
            }
            row(0, c0.0, c1.0, c2.0, c3.0)
            row(1, c0.1, c1.1, c2.1, c3.1)
            row(2, c0.2, c1.2, c2.2, c3.2)
            row(3, c0.3, c1.3, c2.3, c3.3)
        }
    }

    /// M[ξ] = U[ξ] · V[ξ] for the band's first `columns` columns (the micro-kernel over U's A panels and V's
    /// B panels).
    private func multiply(v: UnsafePointer<Float>, m: UnsafeMutablePointer<Float>, columns: Int) {
        let depth = inChannels
        for xi in 0..<WinogradCorrelation.positions {
            panelProduct(rows: paddedOut, columns: columns, depth: depth,
                                             a: u + xi * paddedOut * depth, b: v + xi * depth * bandColumns,
                                             c: m + xi * paddedOut * bandColumns, ldc: bandColumns, accumulate: false)
        }
    }

    /// C[rows, columns] (+)= A · B on packed panels, A as `rows`/mr panels [depth][mr] and B as `columns`/nr
    /// panels [depth][nr] (both multiples), C row-major with `ldc`; in depth slices of the GEMM's kc (the later
    /// ones accumulate; so does the first when `accumulate`).
    func panelProduct(rows: Int, columns: Int, depth: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
                             c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool) {
        var k0 = 0
        while k0 < depth {
            let slice = min(kc, depth - k0)
            var jr = 0
            while jr < columns {
                let bPanel = b + jr * depth + k0 * nr
                var ir = 0
                while ir < rows {
                    gemm.target.microKernel(k: slice, a: a + ir * depth + k0 * mr, b: bPanel, c: c + ir * ldc + jr,
                                            ldc: ldc, rows: mr, columns: nr, overwrite: k0 == 0 && !accumulate, cScale: 1,
                                            high: GEMMMicroKernel.columnGroup)
                    ir += mr
                }
                jr += nr
            }
            k0 += slice
        }
    }

    /// Y = Aᵀ m A for every tile of a strip, Aᵀ = [1 1 1 0; 0 1 −1 −1], into the output strip's two rows
    /// (outStrip[r][x][lane], 2·tileColumns columns).
    @inline(__always)
    private func transformOutput(_ m: UnsafePointer<Float>, channel: Int, firstTile: Int,
                                 into outStrip: UnsafeMutablePointer<Float>) {
        let lanes = LaneGrid.lanes, rowFloats = outputStripFloats / 2
        let positionStride = paddedOut * bandColumns
        let outRaw = UnsafeMutableRawPointer(outStrip)
        for tx in 0..<tileColumns {
            let tile = firstTile + tx
            let base = UnsafeRawPointer(m + channel * bandColumns + tile * lanes)
            @inline(__always) func load(_ xi: Int) -> SIMD16<Float> {
                base.load(fromByteOffset: 4 * xi * positionStride, as: SIMD16<Float>.self)
            }
            // Rows: s0 = m0 + m1 + m2, s1 = m1 − m2 − m3 (per column j).
            @inline(__always) func column(_ j: Int) -> (SIMD16<Float>, SIMD16<Float>) {
                let m0 = load(j), m1 = load(4 + j), m2 = load(8 + j), m3 = load(12 + j)
                return (m0 + m1 + m2, m1 - m2 - m3)
            }
            let s0 = column(0), s1 = column(1), s2 = column(2), s3 = column(3)
            let x = 2 * tx * lanes
            outRaw.storeBytes(of: s0.0 + s1.0 + s2.0, toByteOffset: 4 * x, as: SIMD16<Float>.self)
            outRaw.storeBytes(of: s1.0 - s2.0 - s3.0, toByteOffset: 4 * (x + lanes), as: SIMD16<Float>.self)
            outRaw.storeBytes(of: s0.1 + s1.1 + s2.1, toByteOffset: 4 * (rowFloats + x), as: SIMD16<Float>.self)
            outRaw.storeBytes(of: s1.1 - s2.1 - s3.1, toByteOffset: 4 * (rowFloats + x + lanes), as: SIMD16<Float>.self)
        }
    }

    /// The output strip's rows (those inside the image) into NCHW for the group's `images` images, plus `shift`.
    private func storeStrip(_ outStrip: UnsafePointer<Float>, group: Int, images: Int, channel: Int, tileRow: Int,
                            shift: Float, output: UnsafeMutablePointer<Float>) {
        let lanes = LaneGrid.lanes, rowFloats = outputStripFloats / 2
        let plane = outHeight * outWidth, imageStride = outChannels * plane
        let first = output + group * lanes * imageStride + channel * plane
        for r in 0..<WinogradCorrelation.tileSide {
            let y = WinogradCorrelation.tileSide * tileRow + r
            if y >= outHeight { break }
            LaneTranspose.fromLanes(outStrip + r * rowFloats, pixels: outWidth, shift: shift, into: first + y * outWidth,
                                    planeStride: imageStride, count: images)
        }
    }
}
