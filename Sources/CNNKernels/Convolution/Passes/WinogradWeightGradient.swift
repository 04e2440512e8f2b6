/// The weight gradient of a `WinogradCorrelation` (the forward one, whose tiles it shares), by the same
/// F(2×2, 3×3) algebra run backwards: for each tile, `dM = A dY Aᵀ` of the output gradient's 2×2 tile, then
/// `dU[ξ][o][i] = Σ_tiles dM[ξ][o] · V[ξ][i]` — 16 GEMMs with the tiles (× 16 images) as their depth — and
/// finally `dg = Gᵀ dU G` per (o, i). 16 multiply-adds per tile and channel pair instead of 36.
///
/// The transforms produce lane vectors (16 images of one tile and channel); the GEMM's depth is those tiles ×
/// images, so V and dM are transposed (`Transpose16`) into the micro-kernel's panels: dM as A (mr output
/// channels per step), V as B (nr input channels per step). Each thread sums its bands into its own dU;
/// the final transform adds the threads' dU while it reads them.
extension WinogradCorrelation {
    /// Input channels rounded up to the micro-kernel's columns: the row length of dU.
    var paddedIn: Int { inChannels.roundedUp(toMultipleOf: nr) }

    /// An image group's output gradient in lanes, its rows and columns padded to whole tiles.
    var gradientGrid: LaneGrid {
        let side = WinogradCorrelation.tileSide
        return LaneGrid(channels: outChannels, rows: side * tileRows, width: side * tileColumns)
    }

    /// Floats of one thread's weight-gradient scratch: V and dM as rows of band columns, then as panels, the
    /// group's input and output-gradient grids, and the plane `LaneGrid.place` transposes through.
    var weightScratchFloats: Int {
        WinogradCorrelation.positions * bandColumns * (inChannels + paddedOut + paddedIn + paddedOut)
            + inputGrid.count + gradientGrid.count + max(inHeight * inWidth, outHeight * outWidth) * LaneGrid.lanes
    }

    /// Floats of one thread's dU, [ξ][paddedOut][paddedIn].
    var transformedGradientFloats: Int { WinogradCorrelation.positions * paddedOut * paddedIn }

    /// gradWeight[o][i][3][3] = Σ over the batch of the correlation's weight gradient for `gradOutput`
    /// (the shape of this correlation's output). `scratch[slot]` holds `weightScratchFloats` floats, then from
    /// `partialOffset` on `transformedGradientFloats`, per pool thread (64-byte aligned).
    func weightGradient(batch: Int, input: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>,
                        gradWeight: UnsafeMutablePointer<Float>, scratch: [UnsafeMutablePointer<Float>],
                        partialOffset: Int) {
        if batch <= 0 {
            gradWeight.update(repeating: 0, count: outChannels * inChannels * 9)
            return
        }
        let strips = WinogradCorrelation.strips(batch: batch, tileRows: tileRows), bands = bands(strips: strips)
        let parts = min(threads, bands)
        scratch.withUnsafeBufferPointer { scratchBuffers in
            let job = GradientJob(correlation: Unmanaged.passUnretained(self), batch: batch, strips: strips,
                                  input: input, gradOutput: gradOutput, gradWeight: gradWeight,
                                  scratch: scratchBuffers.baseAddress!,  // invariant: one per thread
                                  partialOffset: partialOffset, parts: parts)
            pool.forEachPart(of: bands, parts: parts, context: job) { raw, part, start, end in
                let job = raw.load(as: GradientJob.self)
                let correlation = job.correlation.takeUnretainedValue()
                var filledGroup = -1
                for band in start..<end {
                    correlation.accumulateGradient(band: band, first: band == start, job: job,
                                                   scratch: job.scratch[part],
                                                   partial: job.scratch[part] + job.partialOffset,
                                                   filledGroup: &filledGroup)
                }
            }
            pool.forEachPart(of: outChannels, parts: min(threads, outChannels), context: job) { raw, _, start, end in
                let job = raw.load(as: GradientJob.self)
                job.correlation.takeUnretainedValue().finishGradient(outChannels: start..<end, job: job)
            }
        }
    }

    private struct GradientJob {
        let correlation: Unmanaged<WinogradCorrelation>
        let batch: Int, strips: Int
        let input: UnsafePointer<Float>
        let gradOutput: UnsafePointer<Float>
        let gradWeight: UnsafeMutablePointer<Float>
        let scratch: UnsafePointer<UnsafeMutablePointer<Float>>
        let partialOffset: Int
        let parts: Int
    }

    /// One band into `partial` (overwritten when `first`): V and dM of its tiles, their panels, the 16 GEMMs.
    private func accumulateGradient(band: Int, first: Bool, job: GradientJob, scratch: UnsafeMutablePointer<Float>,
                                    partial: UnsafeMutablePointer<Float>, filledGroup: inout Int) {
        let positions = WinogradCorrelation.positions, lanes = LaneGrid.lanes
        let v = scratch
        let dm = v + positions * inChannels * bandColumns
        let vPanels = dm + positions * paddedOut * bandColumns
        let dmPanels = vPanels + positions * paddedIn * bandColumns
        let grid = dmPanels + positions * paddedOut * bandColumns
        let gradients = grid + inputGrid.count, planeScratch = gradients + gradientGrid.count
        let bandStrips = strips(ofBand: band, strips: job.strips)
        let side = WinogradCorrelation.tileSide, gradientRowFloats = gradientGrid.width * lanes
        for s in bandStrips {
            let group = s / tileRows, tileRow = s % tileRows
            let firstTile = (s - bandStrips.lowerBound) * tileColumns
            if transformInput(strip: s, firstStrip: bandStrips.lowerBound, input: job.input, batch: job.batch, grid: grid,
                              planeScratch: planeScratch, filledGroup: &filledGroup, layout: rowLayout, into: v) {
                WinogradCorrelation.place(job.gradOutput, group: group, batch: job.batch, in: gradientGrid,
                                          height: outHeight, width: outWidth, offsetY: 0, offsetX: 0,
                                          scratch: planeScratch, into: gradients)
            }
            for o in 0..<outChannels {
                transformGradient(gradients + o * gradientGrid.plane + side * tileRow * gradientRowFloats, channel: o,
                                  firstTile: firstTile, into: dm)
            }
        }
        let columns = bandStrips.count * tileColumns * lanes
        toPanels(v: v, dm: dm, columns: columns, vPanels: vPanels, dmPanels: dmPanels)
        for xi in 0..<positions {
            panelProduct(rows: paddedOut, columns: paddedIn, depth: columns,
                                             a: dmPanels + xi * paddedOut * bandColumns,
                                             b: vPanels + xi * paddedIn * bandColumns,
                                             c: partial + xi * paddedOut * paddedIn, ldc: paddedIn, accumulate: !first)
        }
    }

    /// dM = A dY Aᵀ for every tile of a strip (dY its 2×2 output-gradient tile; `strip` the first of its 2 rows
    /// in the gradient grid), A = [1 0; 1 1; 1 −1; 0 −1], into rows of band columns: dM[ξ][channel][tile·16 + lane].
    @inline(__always)
    private func transformGradient(_ strip: UnsafePointer<Float>, channel: Int, firstTile: Int,
                                   into dm: UnsafeMutablePointer<Float>) {
        let lanes = LaneGrid.lanes, rowFloats = 2 * tileColumns * lanes
        let positionStride = paddedOut * bandColumns
        let raw = UnsafeRawPointer(strip)
        @inline(__always) func load(_ r: Int, _ x: Int) -> SIMD16<Float> {
            raw.load(fromByteOffset: 4 * (r * rowFloats + x * lanes), as: SIMD16<Float>.self)
        }
        for tx in 0..<tileColumns {
            let x = WinogradCorrelation.tileSide * tx
            let base = UnsafeMutableRawPointer(dm + channel * bandColumns + (firstTile + tx) * lanes)
            let p00 = load(0, x), p01 = load(0, x + 1), p10 = load(1, x), p11 = load(1, x + 1)
            @inline(__always) func row(_ r: Int, _ p: SIMD16<Float>, _ q: SIMD16<Float>) {
                let offset = 4 * 4 * r * positionStride, step = 4 * positionStride
                base.storeBytes(of: p, toByteOffset: offset, as: SIMD16<Float>.self)
                base.storeBytes(of: p + q, toByteOffset: offset + step, as: SIMD16<Float>.self)
                base.storeBytes(of: p - q, toByteOffset: offset + 2 * step, as: SIMD16<Float>.self)
                base.storeBytes(of: -q, toByteOffset: offset + 3 * step, as: SIMD16<Float>.self)
            }
            row(0, p00, p01)
            row(1, p00 + p10, p01 + p11)
            row(2, p00 - p10, p01 - p11)
            row(3, -p10, -p11)
        }
    }

    /// V rows → B panels [ξ][i/nr][column][nr] and dM rows → A panels [ξ][o/mr][column][mr], by 16 × 16
    /// transposes (the rows past the channel counts that a transpose reads are finite scratch; they fill
    /// panel rows and columns whose results are never read).
    private func toPanels(v: UnsafePointer<Float>, dm: UnsafePointer<Float>, columns: Int,
                          vPanels: UnsafeMutablePointer<Float>, dmPanels: UnsafeMutablePointer<Float>) {
        let lanes = LaneGrid.lanes
        // A 16 × 16 block transposed from dM rows, dealt to the whole mr-wide A panels it covers.
        let group = lanes / mr * mr
        withUnsafeTemporaryAllocation(of: Float.self, capacity: lanes * lanes) { staging in
            let stage = staging.baseAddress!  // invariant: capacity 256
            for xi in 0..<WinogradCorrelation.positions {
                let vRows = v + xi * inChannels * bandColumns, vTarget = vPanels + xi * paddedIn * bandColumns
                var i0 = 0
                while i0 < inChannels {
                    let target = vTarget + (i0 / nr) * columns * nr + i0 % nr
                    var column = 0
                    while column < columns {
                        Transpose16.transpose(vRows + i0 * bandColumns + column, stride: bandColumns,
                                              into: target + column * nr, outStride: nr)
                        column += lanes
                    }
                    i0 += lanes
                }
                let dmRows = dm + xi * paddedOut * bandColumns, dmTarget = dmPanels + xi * paddedOut * bandColumns
                var o0 = 0
                while o0 < paddedOut {
                    let panels = (min(group, paddedOut - o0)) / mr
                    var column = 0
                    while column < columns {
                        Transpose16.transpose(dmRows + o0 * bandColumns + column, stride: bandColumns, into: stage,
                                              outStride: lanes)
                        GEMMPacking.dealSteps(stage, panels: panels, mr: mr, depth: columns,
                                              into: dmTarget + o0 * columns + column * mr)
                        column += lanes
                    }
                    o0 += group
                }
            }
        }
    }

    /// gradWeight[o][i] = Gᵀ (Σ_parts dU[ξ][o][i]) G for `outChannels`, G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1].
    private func finishGradient(outChannels range: Range<Int>, job: GradientJob) {
        let lanes = LaneGrid.lanes, positionStride = paddedOut * paddedIn, taps = 9
        let half = SIMD16<Float>(repeating: 0.5)
        for o in range {
            var i0 = 0
            while i0 < inChannels {
                @inline(__always) func load(_ xi: Int) -> SIMD16<Float> {
                    var sum = SIMD16<Float>()
                    for part in 0..<job.parts {
                        let partial = job.scratch[part] + job.partialOffset
                        sum += UnsafeRawPointer(partial + xi * positionStride + o * paddedIn + i0)
                            .load(as: SIMD16<Float>.self)
                    }
                    return sum
                }
                // Rows: k0 = d0 + ½(d1 + d2), k1 = ½(d1 − d2), k2 = ½(d1 + d2) + d3 (each a row of 4 positions).
                @inline(__always) func rows(_ j: Int) -> (SIMD16<Float>, SIMD16<Float>, SIMD16<Float>) {
                    let d0 = load(j), d1 = load(4 + j), d2 = load(8 + j), d3 = load(12 + j)
                    let sum = half * (d1 + d2)
                    return (d0 + sum, half * (d1 - d2), sum + d3)
                }
                let c0 = rows(0), c1 = rows(1), c2 = rows(2), c3 = rows(3)
                @inline(__always) func columns(_ x0: SIMD16<Float>, _ x1: SIMD16<Float>, _ x2: SIMD16<Float>,
                                               _ x3: SIMD16<Float>) -> (SIMD16<Float>, SIMD16<Float>, SIMD16<Float>) {
                    let sum = half * (x1 + x2)
                    return (x0 + sum, half * (x1 - x2), sum + x3)
                }
                let r0 = columns(c0.0, c1.0, c2.0, c3.0)
                let r1 = columns(c0.1, c1.1, c2.1, c3.1)
                let r2 = columns(c0.2, c1.2, c2.2, c3.2)
                let values = (r0.0, r0.1, r0.2, r1.0, r1.1, r1.2, r2.0, r2.1, r2.2)
                let target = job.gradWeight + (o * inChannels + i0) * taps
                for lane in 0..<min(lanes, inChannels - i0) {
                    let weights = target + lane * taps
                    weights[0] = values.0[lane]; weights[1] = values.1[lane]; weights[2] = values.2[lane]
                    weights[3] = values.3[lane]; weights[4] = values.4[lane]; weights[5] = values.5[lane]
                    weights[6] = values.6[lane]; weights[7] = values.7[lane]; weights[8] = values.8[lane]
                }
                i0 += lanes
            }
        }
    }
}
