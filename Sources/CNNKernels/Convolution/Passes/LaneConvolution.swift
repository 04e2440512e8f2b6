/// The lanes layout's passes (`LaneGrid`): the forward convolution and the data gradient (`convolve`) and
/// the weight gradient (`correlate`), each in the kernel target's register tile.
enum LaneConvolution {
    /// y[co][oy][ox][lane] = Σ_ci,kh,kw w[co] · x[ci][oy + kh][ox + kw][lane] for `blocks` blocks of 4 output
    /// channels (weights packed per block as [ci][kh][kw][4], `patchSize`·4 floats a block) and `outRows` ×
    /// `outWidth` output pixels (y is [4·blocks][outRows][outWidth][16]), in `target`'s register tile
    /// (`KernelTargetSpec.laneTileChannels` × `laneTilePixels`: 4 × 4 with AVX-512's 32 registers, 2 × 2 in
    /// AVX2's 16, 2 × 3 in NEON's 32 narrower ones).
    /// Every block's tiles of an output position run before the next position, so the input window of a
    /// tile (Cin · KH · (KW + 3) vectors) is read from L1 by all blocks rather than once per block from L2.
    /// Only `valid` rows and columns of x may be non-zero (the rest is padding): a tile skips the kernel rows
    /// and columns that read padding alone — 17 % of the taps of a 14×14 layer padded by 2 for a 5×5
    /// kernel, 56 % of the input-gradient taps of an unpadded 12×12 one.
    static func convolve(grid: LaneGrid, kernelHeight: Int, kernelWidth: Int, outRows: Int, outWidth: Int,
                         valid: (rows: Range<Int>, columns: Range<Int>), blocks: Int, x: UnsafePointer<Float>,
                         weights: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, target: KernelTarget) {
        target.visit(Convolve(grid: grid, kernelHeight: kernelHeight, kernelWidth: kernelWidth, outRows: outRows,
                              outWidth: outWidth, valid: valid, blocks: blocks, x: x, weights: weights, y: y))
    }

    /// `convolve`'s arguments, run with the target's spec.
    private struct Convolve: KernelTargetVisitor {
        let grid: LaneGrid, kernelHeight: Int, kernelWidth: Int, outRows: Int, outWidth: Int
        let valid: (rows: Range<Int>, columns: Range<Int>), blocks: Int
        let x: UnsafePointer<Float>, weights: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>

        func visit<Spec: KernelTargetSpec>(_ spec: Spec.Type) {
            LaneConvolution.convolve(spec, grid: grid, kernelHeight: kernelHeight, kernelWidth: kernelWidth,
                                     outRows: outRows, outWidth: outWidth, valid: valid, blocks: blocks, x: x,
                                     weights: weights, y: y)
        }
    }

    /// Output channels of a block (the packed weights' group).
    static let blockChannels = 4

    private static func convolve<Spec: KernelTargetSpec>(
        _ spec: Spec.Type, grid: LaneGrid, kernelHeight: Int, kernelWidth: Int, outRows: Int, outWidth: Int,
        valid: (rows: Range<Int>, columns: Range<Int>), blocks: Int, x: UnsafePointer<Float>,
        weights: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>
    ) {
        let channels = Spec.laneTileChannels, pixels = Spec.laneTilePixels
        precondition(blockChannels % channels == 0 && pixels <= maximumTilePixels, "lane tile")  // invariant: target constants
        let vector = 4 * LaneGrid.lanes, rowBytes = grid.width * vector, outputBytes = outRows * outWidth * vector
        let blockWeights = grid.channels * kernelHeight * kernelWidth * blockChannels, blockBytes = blockChannels * outputBytes
        let output = UnsafeMutableRawPointer(y)
        /// Runs every block's tiles of `rows` × `columns` output pixels at (oy, ox): `pixels` in a row, 2 × 2 (a
        /// row pair's 2-pixel tails with a 4-pixel tile, so rows of 4k + 2 pixels such as 14 run at its rate),
        /// or a shorter tail.
        @inline(__always) func run(_ oy: Int, _ ox: Int, rows: Int, columns: Int) {
            // Kernel rows and columns that reach a valid input from any of the tile's pixels.
            let firstRow = max(0, valid.rows.lowerBound - (oy + rows - 1))
            let endRow = min(kernelHeight, valid.rows.upperBound - oy)
            let firstColumn = max(0, valid.columns.lowerBound - (ox + columns - 1))
            let endColumn = min(kernelWidth, valid.columns.upperBound - ox)
            let shape = TileShape(channels: grid.channels, rows: max(0, endRow - firstRow),
                                  columns: max(0, endColumn - firstColumn), kernelWidth: kernelWidth,
                                  kernelHeight: kernelHeight, channelBytes: 4 * grid.plane, rowBytes: rowBytes,
                                  outputBytes: outputBytes)
            let input = UnsafeRawPointer(x) + (oy + firstRow) * rowBytes + (ox + firstColumn) * vector
            let out = output + (oy * outWidth + ox) * vector
            let skipped = (firstRow * kernelWidth + firstColumn) * blockChannels
            // Where the tile's third and fourth pixels are: further along the row, or the next row.
            let second = rows == 2 ? (input: rowBytes, output: outWidth * vector) : (input: 2 * vector, output: 2 * vector)
            let count = rows * columns
            for block in 0..<blocks {
                for c0 in stride(from: 0, to: blockChannels, by: channels) {
                    let w = weights + block * blockWeights + skipped + c0, o = out + block * blockBytes + c0 * outputBytes
                    if count == pixels {
                        tile(shape, input, w, o, second, channels: channels, pixels: pixels)
                    } else if count == 2 {
                        tile(shape, input, w, o, second, channels: channels, pixels: 2)
                    } else if count == 3 {
                        tile(shape, input, w, o, second, channels: channels, pixels: 3)
                    } else {
                        tile(shape, input, w, o, second, channels: channels, pixels: 1)
                    }
                }
            }
        }
        let tail = outWidth % pixels, body = outWidth - tail
        for oy in 0..<outRows {
            for ox in stride(from: 0, to: body, by: pixels) { run(oy, ox, rows: 1, columns: pixels) }
            if pixels == 4 && tail >= 2 && oy % 2 == 0 {
                run(oy, body, rows: oy + 1 < outRows ? 2 : 1, columns: 2)  // odd rows' pairs ran with the row above
            } else if pixels != 4 && tail >= 2 {
                run(oy, body, rows: 1, columns: 2)
            }
            if tail % 2 == 1 { run(oy, outWidth - 1, rows: 1, columns: 1) }
        }
    }

    /// The largest tile row any target uses.
    static let maximumTilePixels = 4

    /// What one output tile of `convolve` needs besides its pointers: the kernel rows × columns it runs
    /// (a window of the KH × KW kernel) and the strides.
    struct TileShape {
        let channels: Int, rows: Int, columns: Int
        let kernelWidth: Int, kernelHeight: Int
        let channelBytes: Int, rowBytes: Int
        /// Distance between output channels' planes.
        let outputBytes: Int
    }

    /// Calls `body(weights, tap)` for every (ci, kh, kw) of the tile's kernel window in the packed weights'
    /// order, `tap` pointing at input pixel (kh, kw) of channel ci relative to the tile's first output pixel
    /// (`x` and `weights` already point at the window's first row and column).
    @inline(__always)
    private static func forEachTap(_ shape: TileShape, _ x: UnsafeRawPointer, _ weights: UnsafePointer<Float>,
                                   _ body: (UnsafePointer<Float>, UnsafeRawPointer) -> Void) {
        let columnBytes = 4 * LaneGrid.lanes
        let rowFloats = blockChannels * shape.kernelWidth, channelFloats = shape.kernelHeight * rowFloats
        for ci in 0..<shape.channels {
            let channel = x + ci * shape.channelBytes
            for r in 0..<shape.rows {
                let line = channel + r * shape.rowBytes
                var w = weights + ci * channelFloats + r * rowFloats
                for c in 0..<shape.columns {
                    body(w, line + c * columnBytes)
                    w += blockChannels
                }
            }
        }
    }

    /// One lane vector: a pixel of 16 images.
    typealias Lanes = SIMD16<Float>

    /// `channels` (≤ 4) output channels × `pixels` (≤ 4) output pixels in as many lane accumulators, one load
    /// per pixel and one broadcast per channel for each tap. Pixels 0 and 1 are consecutive; pixels 2 and 3
    /// are `second` bytes after them (input, output): the next two of the row, or the two below (2 × 2).
    /// `channels` and `pixels` are constants at every call, so the unused accumulators fold away.
    @inline(__always)
    private static func tile(_ shape: TileShape, _ x: UnsafeRawPointer, _ weights: UnsafePointer<Float>,
                             _ y: UnsafeMutableRawPointer, _ second: (input: Int, output: Int), channels: Int, pixels: Int) {
        let vector = MemoryLayout<Lanes>.stride
        var a00 = Lanes(), a01 = Lanes(), a02 = Lanes(), a03 = Lanes()
        var a10 = Lanes(), a11 = Lanes(), a12 = Lanes(), a13 = Lanes()
        var a20 = Lanes(), a21 = Lanes(), a22 = Lanes(), a23 = Lanes()
        var a30 = Lanes(), a31 = Lanes(), a32 = Lanes(), a33 = Lanes()
        let x2 = second.input, x3 = second.input + vector
        forEachTap(shape, x, weights) { w, tap in
            @inline(__always) func add(_ v: Lanes, _ a0: inout Lanes, _ a1: inout Lanes, _ a2: inout Lanes, _ a3: inout Lanes) {
                a0 = a0.addingProduct(Lanes(repeating: w[0]), v)
                if channels > 1 { a1 = a1.addingProduct(Lanes(repeating: w[1]), v) }
                if channels > 2 { a2 = a2.addingProduct(Lanes(repeating: w[2]), v) }
                if channels > 3 { a3 = a3.addingProduct(Lanes(repeating: w[3]), v) }
            }
            add(tap.load(as: Lanes.self), &a00, &a10, &a20, &a30)
            if pixels > 1 { add(tap.load(fromByteOffset: vector, as: Lanes.self), &a01, &a11, &a21, &a31) }
            if pixels > 2 { add(tap.load(fromByteOffset: x2, as: Lanes.self), &a02, &a12, &a22, &a32) }
            if pixels > 3 { add(tap.load(fromByteOffset: x3, as: Lanes.self), &a03, &a13, &a23, &a33) }
        }
        @inline(__always) func store(_ pixel: UnsafeMutableRawPointer, _ a0: Lanes, _ a1: Lanes, _ a2: Lanes, _ a3: Lanes) {
            pixel.storeBytes(of: a0, as: Lanes.self)
            if channels > 1 { pixel.storeBytes(of: a1, toByteOffset: shape.outputBytes, as: Lanes.self) }
            if channels > 2 { pixel.storeBytes(of: a2, toByteOffset: 2 * shape.outputBytes, as: Lanes.self) }
            if channels > 3 { pixel.storeBytes(of: a3, toByteOffset: 3 * shape.outputBytes, as: Lanes.self) }
        }
        store(y, a00, a10, a20, a30)
        if pixels > 1 { store(y + vector, a01, a11, a21, a31) }
        if pixels > 2 { store(y + second.output, a02, a12, a22, a32) }
        if pixels > 3 { store(y + second.output + vector, a03, a13, a23, a33) }
    }

    /// partial[(co·patchSize + p)·16 + lane] += Σ_oy,ox g[co][oy][ox][lane] · x[offsets[p] + (oy·width + ox)·16 + lane]
    /// for co < outChannels (g holds whole blocks of 4 channels, [rows][outRows][outWidth][16]) and
    /// p < patchSize, in `target`'s `CorrelationTile`; `offsets` holds `CorrelationTile.paddedCount(patchSize)`
    /// entries (extra sums are dropped).
    /// The sums stay per lane (no horizontal reduction in the loop); `reduce` adds the lanes once per call.
    static func correlate(grid: LaneGrid, outRows: Int, outWidth: Int, outChannels: Int, x: UnsafePointer<Float>,
                          g: UnsafePointer<Float>, offsets: UnsafePointer<Int>, patchSize: Int,
                          partial: UnsafeMutablePointer<Float>, target: KernelTarget) {
        let lanes = LaneGrid.lanes, vector = 4 * lanes
        let channelBytes = outRows * outWidth * vector
        let skip = (grid.width - outWidth) * vector
        // Output rows per pass: a block's 4 gradient channels of a pass stay in L1 while every tile of
        // the patch reads them (all rows at once would stream them from L2 for each tile).
        let chunk = max(1, correlateChunkBytes / (blockChannels * outWidth * vector))
        for firstRow in stride(from: 0, to: outRows, by: chunk) {
            let rows = min(chunk, outRows - firstRow)
            let gStart = firstRow * outWidth * vector, xStart = firstRow * grid.width * vector
            target.visit(CorrelateRows(rows: rows, outWidth: outWidth, skip: skip, channelBytes: channelBytes,
                                       outChannels: outChannels, x: UnsafeRawPointer(x) + xStart, g: UnsafeRawPointer(g) + gStart,
                                       offsets: offsets, patchSize: patchSize, partial: partial))
        }
    }

    /// Bytes of gradient (4 channels × a pass's rows) `correlate` keeps L1-resident per pass.
    static let correlateChunkBytes = 16_384

    /// `correlate` over `rows` output rows starting at `x` / `g`, in the target's tile.
    private struct CorrelateRows: KernelTargetVisitor {
        let rows: Int, outWidth: Int, skip: Int, channelBytes: Int, outChannels: Int
        let x: UnsafeRawPointer, g: UnsafeRawPointer, offsets: UnsafePointer<Int>, patchSize: Int
        let partial: UnsafeMutablePointer<Float>

        func visit<Spec: KernelTargetSpec>(_ spec: Spec.Type) {
            let tileRows = Spec.correlationRows, inputs = Spec.correlationInputs
            let lanes = LaneGrid.lanes, vector = 4 * lanes
            for first in stride(from: 0, to: outChannels, by: tileRows) {
                let g0 = g + first * channelBytes
                var p0 = 0
                while p0 < patchSize {
                    let xs = CorrelationTile.Inputs(x, offsets + p0, count: inputs)
                    var tile = CorrelationTile()
                    var gByte = 0, xByte = 0
                    for _ in 0..<rows {
                        for _ in 0..<outWidth {
                            tile.add(gradient: g0, rowBytes: channelBytes, gradientByte: gByte, xs, inputByte: xByte,
                                     rows: tileRows, inputs: inputs)
                            gByte += vector
                            xByte += vector
                        }
                        xByte += skip
                    }
                    let taps = min(inputs, patchSize - p0)
                    let target = UnsafeMutableRawPointer(partial + (first * patchSize + p0) * lanes)
                    let channel = patchSize * vector
                    for r in 0..<min(tileRows, outChannels - first) {
                        tile.forEach(row: r, inputs: taps) { t, sum in
                            let offset = r * channel + t * vector
                            target.storeBytes(of: target.load(fromByteOffset: offset, as: CorrelationTile.Lanes.self) + sum,
                                              toByteOffset: offset, as: CorrelationTile.Lanes.self)
                        }
                    }
                    p0 += inputs
                }
            }
        }
    }

    /// target[i] += Σ_lane partial[i·16 + lane] for i < count.
    static func reduce(_ partial: UnsafePointer<Float>, count: Int, into target: UnsafeMutablePointer<Float>) {
        let raw = UnsafeRawPointer(partial)
        for i in 0..<count { target[i] += raw.load(fromByteOffset: i * 4 * LaneGrid.lanes, as: SIMD16<Float>.self).sum() }
    }

    /// target[c] += Σ_pixels,lane g[c][pixel][lane] for c < channels (g is [channels][pixels][16]).
    static func sumChannels(_ g: UnsafePointer<Float>, channels: Int, pixels: Int, into target: UnsafeMutablePointer<Float>) {
        let raw = UnsafeRawPointer(g), vector = 4 * LaneGrid.lanes
        for c in 0..<channels {
            var total = SIMD16<Float>()
            for p in 0..<pixels { total += raw.load(fromByteOffset: (c * pixels + p) * vector, as: SIMD16<Float>.self) }
            target[c] += total.sum()
        }
    }

    /// Writes lane `lane` of channel j of a [channels][rows][width][16] block as a rows × width plane plus
    /// `shift` (one plane at a time, for an epilogue's scratch plane; whole blocks use `LaneTranspose`).
    static func extract(_ block: UnsafePointer<Float>, channel j: Int, lane: Int, pixels: Int, shift: Float,
                        into plane: UnsafeMutablePointer<Float>) {
        let from = block + j * pixels * LaneGrid.lanes + lane
        for p in 0..<pixels { plane[p] = from[p * LaneGrid.lanes] + shift }
    }
}
