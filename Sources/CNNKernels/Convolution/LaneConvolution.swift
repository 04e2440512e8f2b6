/// Convolution with a block of 16 images in the SIMD lanes ("batch in lanes").
///
/// A block is stored as [channel][row][column][16]: every pixel of every channel is one aligned
/// `SIMD16<Float>` holding that pixel of the 16 images. A tap of an output pixel is then one aligned load,
/// neighbouring output pixels are neighbouring vectors, and no lane computes padding: the per-image wide
/// grid of `WideConvolution` spends KW − 1 of every row's columns on garbage (22 % of Model A's cnn2 FMAs)
/// and its taps are unaligned, cache-line-splitting loads. `DirectConvolution` runs whole blocks of 16
/// images of stride-1, ungrouped, undilated layers here (`LaneGrid.supports`) and the rest on the wide grid.
struct LaneGrid {
    /// Images per block: the lanes of one `SIMD16<Float>`.
    static let lanes = 16

    let channels: Int, rows: Int, width: Int
    /// Floats of one channel.
    var plane: Int { rows * width * LaneGrid.lanes }
    /// Floats of the whole block.
    var count: Int { channels * plane }

    /// Whether blocks in lanes can run `g` (stride 1, no groups, no dilation, each padding at most K − 1, so
    /// the input gradient is the same kernel on the gradient padded by K − 1 − P).
    static func supports(_ g: ConvolutionGeometry) -> Bool {
        g.strideHeight == 1 && g.strideWidth == 1 && g.groups == 1 && g.dilationHeight == 1 && g.dilationWidth == 1
            && max(g.paddingTop, g.paddingBottom) <= g.kernelHeight - 1
            && max(g.paddingLeft, g.paddingRight) <= g.kernelWidth - 1
    }

    /// Zeroes the block and writes `images` (≤ 16) images of source[n][c][height][width] (n at `imageStride`
    /// floats, c < `sourceChannels` ≤ channels) at row y + offsetY, column x + offsetX of lane n; other
    /// channels and lanes stay zero. Each channel is transposed into `scratch` (height·width·16 floats) and
    /// its rows copied into place.
    func place(_ source: UnsafePointer<Float>, imageStride: Int, sourceChannels: Int, height: Int,
               width sourceWidth: Int, offsetY: Int, offsetX: Int, images: Int = LaneGrid.lanes,
               scratch: UnsafeMutablePointer<Float>, into block: UnsafeMutablePointer<Float>) {
        zero(block, outsideRows: offsetY ..< offsetY + height, columns: offsetX ..< offsetX + sourceWidth,
             ofChannels: sourceChannels)
        let lanes = LaneGrid.lanes, pixels = height * sourceWidth
        for c in 0..<sourceChannels {
            LaneTranspose.toLanes(source + c * pixels, planeStride: imageStride, pixels: pixels, into: scratch,
                                  count: images)
            for y in 0..<height {
                (block + c * plane + ((y + offsetY) * width + offsetX) * lanes)
                    .update(from: scratch + y * sourceWidth * lanes, count: sourceWidth * lanes)
            }
        }
    }
}

extension LaneGrid {
    /// Zeroes what a write of rows × columns of the first `channels` channels leaves out: the rest of those
    /// channels (the padding) and all of the later ones. The block's buffer is shared by grids of other
    /// shapes, so nothing outside the written region can be assumed zero; the region itself is not touched.
    func zero(_ block: UnsafeMutablePointer<Float>, outsideRows rows: Range<Int>, columns: Range<Int>, ofChannels channels: Int) {
        let lanes = LaneGrid.lanes, rowFloats = width * lanes
        for c in 0..<min(channels, self.channels) {
            let plane = block + c * self.plane
            plane.update(repeating: 0, count: rows.lowerBound * rowFloats)
            for row in rows {
                let line = plane + row * rowFloats
                line.update(repeating: 0, count: columns.lowerBound * lanes)
                (line + columns.upperBound * lanes).update(repeating: 0, count: (width - columns.upperBound) * lanes)
            }
            (plane + rows.upperBound * rowFloats).update(repeating: 0, count: (self.rows - rows.upperBound) * rowFloats)
        }
        if channels < self.channels {
            (block + channels * plane).update(repeating: 0, count: (self.channels - channels) * plane)
        }
    }
}

enum LaneConvolution {
    /// y[co][oy][ox][lane] = Σ_ci,kh,kw w[co] · x[ci][oy + kh][ox + kw][lane] for `blocks` blocks of 4 output
    /// channels (weights packed per block as [ci][kh][kw][4], `patchSize`·4 floats a block) and `outRows` ×
    /// `outWidth` output pixels (y is [4·blocks][outRows][outWidth][16]).
    /// Every block's tile of an output position runs before the next position, so the input window of a
    /// tile (Cin · KH · (KW + 3) vectors) is read from L1 by all blocks rather than once per block from L2.
    /// Only `valid` rows and columns of x may be non-zero (the rest is padding): a tile skips the kernel rows
    /// and columns that read padding alone — 17 % of the taps of a 14×14 layer padded by 2 for a 5×5
    /// kernel, 56 % of the input-gradient taps of an unpadded 12×12 one.
    static func convolve(grid: LaneGrid, kernelHeight: Int, kernelWidth: Int, outRows: Int, outWidth: Int,
                         valid: (rows: Range<Int>, columns: Range<Int>), blocks: Int, x: UnsafePointer<Float>,
                         weights: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>) {
        let vector = 4 * LaneGrid.lanes, rowBytes = grid.width * vector, outputBytes = outRows * outWidth * vector
        let blockWeights = grid.channels * kernelHeight * kernelWidth * 4, blockBytes = 4 * outputBytes
        let output = UnsafeMutableRawPointer(y)
        /// Runs every block's tile of `rows` × `columns` output pixels at (oy, ox): 4 in a row, 2 × 2 (a row
        /// pair's 2-pixel tails, so rows of 4k + 2 pixels such as 14 run at the 4-pixel tile's rate), 2 or 1.
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
            let skipped = (firstRow * kernelWidth + firstColumn) * 4
            // Where the tile's third and fourth pixels are: further along the row, or the next row.
            let second = rows == 2 ? (input: rowBytes, output: outWidth * vector) : (input: 2 * vector, output: 2 * vector)
            for block in 0..<blocks {
                let w = weights + block * blockWeights + skipped, o = out + block * blockBytes
                switch rows * columns {
                case 4: tile4(shape, input, w, o, second)
                case 2: tile2(shape, input, w, o)
                default: tile1(shape, input, w, o)
                }
            }
        }
        let tail = outWidth % 4, body = outWidth - tail
        for oy in 0..<outRows {
            for ox in stride(from: 0, to: body, by: 4) { run(oy, ox, rows: 1, columns: 4) }
            if tail >= 2 && oy % 2 == 0 {
                run(oy, body, rows: oy + 1 < outRows ? 2 : 1, columns: 2)  // odd rows' pairs ran with the row above
            }
            if tail % 2 == 1 { run(oy, outWidth - 1, rows: 1, columns: 1) }
        }
    }

    /// What one output tile of `convolve` needs besides its pointers: the kernel rows × columns it runs
    /// (a window of the KH × KW kernel) and the strides.
    struct TileShape {
        let channels: Int, rows: Int, columns: Int
        let kernelWidth: Int, kernelHeight: Int
        let channelBytes: Int, rowBytes: Int
        /// Distance between the 4 output channels' blocks.
        let outputBytes: Int
    }

    /// The 4 output channels' accumulators of one output pixel (16 lanes each).
    struct Quad {
        var c0 = SIMD16<Float>(), c1 = SIMD16<Float>(), c2 = SIMD16<Float>(), c3 = SIMD16<Float>()

        /// c_j += w[j] · v.
        @inline(__always)
        mutating func add(_ w: UnsafePointer<Float>, _ v: SIMD16<Float>) {
            c0 = c0.addingProduct(SIMD16(repeating: w[0]), v)
            c1 = c1.addingProduct(SIMD16(repeating: w[1]), v)
            c2 = c2.addingProduct(SIMD16(repeating: w[2]), v)
            c3 = c3.addingProduct(SIMD16(repeating: w[3]), v)
        }

        /// Stores channel j at y + j · channelBytes.
        @inline(__always)
        func store(_ y: UnsafeMutableRawPointer, channelBytes: Int) {
            y.storeBytes(of: c0, as: SIMD16<Float>.self)
            y.storeBytes(of: c1, toByteOffset: channelBytes, as: SIMD16<Float>.self)
            y.storeBytes(of: c2, toByteOffset: 2 * channelBytes, as: SIMD16<Float>.self)
            y.storeBytes(of: c3, toByteOffset: 3 * channelBytes, as: SIMD16<Float>.self)
        }
    }

    /// Calls `body(weights, tap)` for every (ci, kh, kw) of the tile's kernel window in the packed weights'
    /// order, `tap` pointing at input pixel (kh, kw) of channel ci relative to the tile's first output pixel
    /// (`x` and `weights` already point at the window's first row and column).
    @inline(__always)
    private static func forEachTap(_ shape: TileShape, _ x: UnsafeRawPointer, _ weights: UnsafePointer<Float>,
                                   _ body: (UnsafePointer<Float>, UnsafeRawPointer) -> Void) {
        let columnBytes = 4 * LaneGrid.lanes
        let rowFloats = 4 * shape.kernelWidth, channelFloats = shape.kernelHeight * rowFloats
        for ci in 0..<shape.channels {
            let channel = x + ci * shape.channelBytes
            for r in 0..<shape.rows {
                let line = channel + r * shape.rowBytes
                var w = weights + ci * channelFloats + r * rowFloats
                for c in 0..<shape.columns {
                    body(w, line + c * columnBytes)
                    w += 4
                }
            }
        }
    }

    /// 4 output channels × 4 output pixels: 16 accumulators, 4 loads + 4 broadcasts per 16 FMAs.
    /// The second pair of pixels is `second` bytes after the first (input, output): the next two pixels of
    /// the row, or the two below them.
    private static func tile4(_ shape: TileShape, _ x: UnsafeRawPointer, _ weights: UnsafePointer<Float>,
                              _ y: UnsafeMutableRawPointer, _ second: (input: Int, output: Int)) {
        var p0 = Quad(), p1 = Quad(), p2 = Quad(), p3 = Quad()
        let x2 = second.input, x3 = second.input + 64
        forEachTap(shape, x, weights) { w, tap in
            p0.add(w, tap.load(as: SIMD16<Float>.self))
            p1.add(w, tap.load(fromByteOffset: 64, as: SIMD16<Float>.self))
            p2.add(w, tap.load(fromByteOffset: x2, as: SIMD16<Float>.self))
            p3.add(w, tap.load(fromByteOffset: x3, as: SIMD16<Float>.self))
        }
        p0.store(y, channelBytes: shape.outputBytes)
        p1.store(y + 64, channelBytes: shape.outputBytes)
        p2.store(y + second.output, channelBytes: shape.outputBytes)
        p3.store(y + second.output + 64, channelBytes: shape.outputBytes)
    }

    /// 4 output channels × 2 output pixels (a row's tail).
    private static func tile2(_ shape: TileShape, _ x: UnsafeRawPointer, _ weights: UnsafePointer<Float>,
                              _ y: UnsafeMutableRawPointer) {
        var p0 = Quad(), p1 = Quad()
        forEachTap(shape, x, weights) { w, tap in
            p0.add(w, tap.load(as: SIMD16<Float>.self))
            p1.add(w, tap.load(fromByteOffset: 64, as: SIMD16<Float>.self))
        }
        p0.store(y, channelBytes: shape.outputBytes)
        p1.store(y + 64, channelBytes: shape.outputBytes)
    }

    /// 4 output channels × 1 output pixel (a row's tail).
    private static func tile1(_ shape: TileShape, _ x: UnsafeRawPointer, _ weights: UnsafePointer<Float>,
                              _ y: UnsafeMutableRawPointer) {
        var p0 = Quad()
        forEachTap(shape, x, weights) { w, tap in p0.add(w, tap.load(as: SIMD16<Float>.self)) }
        p0.store(y, channelBytes: shape.outputBytes)
    }

    /// partial[(co·patchSize + p)·16 + lane] += Σ_oy,ox g[co][oy][ox][lane] · x[offsets[p] + (oy·width + ox)·16 + lane]
    /// for co < outChannels (g holds whole blocks of 4 channels, [rows][outRows][outWidth][16]) and
    /// p < patchSize; `offsets` holds patchSize rounded up to `CorrelationTile.inputs` entries (extra sums are dropped).
    /// The sums stay per lane (no horizontal reduction in the loop); `reduce` adds the lanes once per call.
    static func correlate(grid: LaneGrid, outRows: Int, outWidth: Int, outChannels: Int, x: UnsafePointer<Float>,
                          g: UnsafePointer<Float>, offsets: UnsafePointer<Int>, patchSize: Int,
                          partial: UnsafeMutablePointer<Float>) {
        let lanes = LaneGrid.lanes, vector = 4 * lanes
        let channelBytes = outRows * outWidth * vector
        let skip = (grid.width - outWidth) * vector
        // Output rows per pass: a block's 4 gradient channels of a pass stay in L1 while every tile of
        // the patch reads them (all rows at once would stream them from L2 for each tile).
        let chunk = max(1, correlateChunkBytes / (4 * outWidth * vector))
        for firstRow in stride(from: 0, to: outRows, by: chunk) {
            let rows = min(chunk, outRows - firstRow)
            let gStart = firstRow * outWidth * vector, xStart = firstRow * grid.width * vector
            correlateRows(rows: rows, outWidth: outWidth, skip: skip, channelBytes: channelBytes,
                          outChannels: outChannels, x: UnsafeRawPointer(x) + xStart, g: UnsafeRawPointer(g) + gStart,
                          offsets: offsets, patchSize: patchSize, partial: partial)
        }
    }

    /// Bytes of gradient (4 channels × a pass's rows) `correlate` keeps L1-resident per pass.
    static let correlateChunkBytes = 16_384

    /// `correlate` over `rows` output rows starting at `x` / `g`.
    private static func correlateRows(rows: Int, outWidth: Int, skip: Int, channelBytes: Int, outChannels: Int,
                                      x: UnsafeRawPointer, g: UnsafeRawPointer, offsets: UnsafePointer<Int>,
                                      patchSize: Int, partial: UnsafeMutablePointer<Float>) {
        let lanes = LaneGrid.lanes, vector = 4 * lanes
        for block in 0..<((outChannels + 3) / 4) {
            let g0 = g + 4 * block * channelBytes
            var p0 = 0
            while p0 < patchSize {
                let x0 = x + 4 * offsets[p0], x1 = x + 4 * offsets[p0 + 1]
                let x2 = x + 4 * offsets[p0 + 2], x3 = x + 4 * offsets[p0 + 3]
                let x4 = x + 4 * offsets[p0 + 4]
                var tile = CorrelationTile()
                var gByte = 0, xByte = 0
                for _ in 0..<rows {
                    for _ in 0..<outWidth {
                        tile.add(gradient: g0, rowBytes: channelBytes, gradientByte: gByte, x0, x1, x2, x3, x4,
                                 inputByte: xByte)
                        gByte += vector
                        xByte += vector
                    }
                    xByte += skip
                }
                let taps = min(CorrelationTile.inputs, patchSize - p0), first = 4 * block
                let target = partial + (first * patchSize + p0) * lanes, channel = patchSize * lanes
                for r in 0..<min(4, outChannels - first) {
                    let v = tile.row(r)
                    add(v.0, v.1, v.2, v.3, v.4, taps, target + r * channel)
                }
                p0 += CorrelationTile.inputs
            }
        }
    }

    /// target[t·16 ..< t·16 + 16] += s_t for t < taps.
    @inline(__always)
    private static func add(_ s0: SIMD16<Float>, _ s1: SIMD16<Float>, _ s2: SIMD16<Float>, _ s3: SIMD16<Float>,
                            _ s4: SIMD16<Float>, _ taps: Int, _ target: UnsafeMutablePointer<Float>) {
        let raw = UnsafeMutableRawPointer(target), vector = 4 * LaneGrid.lanes
        @inline(__always) func add(_ s: SIMD16<Float>, _ t: Int) {
            raw.storeBytes(of: raw.load(fromByteOffset: t * vector, as: SIMD16<Float>.self) + s,
                           toByteOffset: t * vector, as: SIMD16<Float>.self)
        }
        add(s0, 0)
        if taps > 1 { add(s1, 1) }
        if taps > 2 { add(s2, 2) }
        if taps > 3 { add(s3, 3) }
        if taps > 4 { add(s4, 4) }
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

/// Which images of a batch each part (thread) runs in lanes and which on the wide grid: whole blocks of 16,
/// as many as divide evenly among the parts (one block more on one thread would leave the other idle for a
/// block's time); the rest, fewer than 16 per part, run one by one on the wide grid.
struct LaneSplit {
    let batch: Int, parts: Int
    /// Blocks of 16 images run in lanes (images 0 ..< 16·blocks).
    let blocks: Int

    init(batch: Int, threads: Int, lanesAllowed: Bool) {
        self.batch = batch
        parts = max(1, min(threads, batch))
        let whole = lanesAllowed ? batch / LaneGrid.lanes : 0
        blocks = whole >= parts ? whole - whole % parts : 0
    }

    func blocks(part: Int) -> Range<Int> { blocks * part / parts ..< blocks * (part + 1) / parts }

    func wideImages(part: Int) -> Range<Int> {
        let first = blocks * LaneGrid.lanes, rest = batch - first
        return first + rest * part / parts ..< first + rest * (part + 1) / parts
    }
}
