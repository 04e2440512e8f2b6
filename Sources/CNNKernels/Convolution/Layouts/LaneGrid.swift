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
