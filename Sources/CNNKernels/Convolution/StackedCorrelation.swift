/// A block of stride-1 images laid out one after another on a single flat pixel axis, with shared zero
/// padding — the layout of the direct backend's weight gradient.
///
/// Pixel (r, c) of image i sits at `i·imagePlane + (r + P_h)·rowStride + c + P_w`, with
/// `rowStride = W + P_w` and `imagePlane = (H + P_h)·rowStride`; every other position is zero. Output pixel
/// (y, x) of image i is position `q = i·imagePlane + y·rowStride + x` and reads tap (kh, kw) at
/// `q + kh·rowStride + kw`: the P_w zero columns at the start of the next row are this row's right padding
/// and the P_h zero rows at the top of the next image are this image's bottom padding. That needs stride 1
/// and P ≤ K − 1 in both directions. Compared with one padded buffer per image it saves the duplicated
/// padding and, above all, makes the pixel axis of a whole block one long reduction.
struct StackedGrid {
    let height: Int, width: Int, paddingHeight: Int, paddingWidth: Int
    let kernelHeight: Int, kernelWidth: Int
    /// Images per block (capacity of the buffers).
    let images: Int

    init(_ g: ConvolutionGeometry, images: Int) {
        height = g.inHeight
        width = g.inWidth
        paddingHeight = g.paddingHeight
        paddingWidth = g.paddingWidth
        kernelHeight = g.kernelHeight
        kernelWidth = g.kernelWidth
        self.images = images
    }

    /// Whether the layout can compute `g`'s weight gradient (no groups, no dilation, symmetric padding).
    static func supports(_ g: ConvolutionGeometry) -> Bool {
        g.strideHeight == 1 && g.strideWidth == 1 && g.groups == 1
            && g.dilationHeight == 1 && g.dilationWidth == 1
            && g.paddingTop == g.paddingBottom && g.paddingLeft == g.paddingRight
            && g.paddingHeight <= g.kernelHeight - 1 && g.paddingWidth <= g.kernelWidth - 1
    }

    var rowStride: Int { width + paddingWidth }
    var imagePlane: Int { (height + paddingHeight) * rowStride }
    var outHeight: Int { height + 2 * paddingHeight - kernelHeight + 1 }
    var outWidth: Int { width + 2 * paddingWidth - kernelWidth + 1 }
    /// Output positions of `count` images, rounded up to whole SIMD16 vectors.
    func length(images count: Int) -> Int { (count * imagePlane + 15) / 16 * 16 }
    /// Distance between input channels: a full block plus the farthest tap and one vector of zero slack.
    var channelStride: Int {
        (length(images: images) + (kernelHeight - 1) * rowStride + kernelWidth - 1 + 16 + 15) / 16 * 16
    }
    /// Offset of tap (kh, kw) of input channel ci from an output position.
    func tapOffset(channel ci: Int, row kh: Int, column kw: Int) -> Int {
        ci * channelStride + kh * rowStride + kw
    }
}

/// The weight gradient of a stride-1 convolution on `StackedGrid` blocks: for 4 output channels × 5 patch
/// entries (flattened (ci, kh, kw), so any kernel size fills the tile) 20 `SIMD16<Float>` accumulators run
/// over the whole block's pixels — 9 loads per 20 FMAs — and are reduced to scalars once per block.
enum StackedCorrelation {

    /// Zeroes `input` (`channels·grid.channelStride` floats) and writes `count` images of
    /// source[n][c][H][W] into it.
    static func placeInput(_ source: UnsafePointer<Float>, images count: Int, channels: Int, grid: StackedGrid,
                           into input: UnsafeMutablePointer<Float>) {
        input.update(repeating: 0, count: channels * grid.channelStride)
        let h = grid.height, w = grid.width, rowStride = grid.rowStride
        for i in 0..<count {
            for c in 0..<channels {
                let from = source + (i * channels + c) * h * w
                let to = input + c * grid.channelStride + i * grid.imagePlane + grid.paddingHeight * rowStride
                    + grid.paddingWidth
                for r in 0..<h { (to + r * rowStride).update(from: from + r * w, count: w) }
            }
        }
    }

    /// Zeroes `gradient` (`rows·grid.length(images: grid.images)` floats, `rows` ≥ channels, a multiple of 4)
    /// and writes `count` images of gradOutput[n][c][OH][OW] at their output positions.
    static func placeGradient(_ source: UnsafePointer<Float>, images count: Int, channels: Int, rows: Int,
                              grid: StackedGrid, into gradient: UnsafeMutablePointer<Float>) {
        let stride = grid.length(images: grid.images)
        gradient.update(repeating: 0, count: rows * stride)
        let oh = grid.outHeight, ow = grid.outWidth, rowStride = grid.rowStride
        for i in 0..<count {
            for c in 0..<channels {
                let from = source + (i * channels + c) * oh * ow
                let to = gradient + c * stride + i * grid.imagePlane
                for y in 0..<oh { (to + y * rowStride).update(from: from + y * ow, count: ow) }
            }
        }
    }

    /// partial[co·patchSize + p] += Σ_q gradient[co][q] · input[q + offsets[p]] over the first `count`
    /// images' positions, for co < outChannels and p < patchSize. `offsets` holds patchSize rounded up to
    /// `CorrelationTile.inputs` entries (padding entries may be any valid offset; their sums are dropped).
    static func accumulate(grid: StackedGrid, images count: Int, input: UnsafePointer<Float>,
                           gradient: UnsafePointer<Float>, outChannels: Int, offsets: UnsafePointer<Int>,
                           patchSize: Int, partial: UnsafeMutablePointer<Float>) {
        let stride = grid.length(images: grid.images)
        let end = 4 * grid.length(images: count)
        let rowBytes = 4 * stride
        for block in 0..<((outChannels + 3) / 4) {
            let g = UnsafeRawPointer(gradient + 4 * block * stride)
            var p0 = 0
            while p0 < patchSize {
                let x0 = UnsafeRawPointer(input + offsets[p0]), x1 = UnsafeRawPointer(input + offsets[p0 + 1])
                let x2 = UnsafeRawPointer(input + offsets[p0 + 2]), x3 = UnsafeRawPointer(input + offsets[p0 + 3])
                let x4 = UnsafeRawPointer(input + offsets[p0 + 4])
                var tile = CorrelationTile()
                var byte = 0
                while byte < end {
                    tile.add(gradient: g, rowBytes: rowBytes, gradientByte: byte, x0, x1, x2, x3, x4, inputByte: byte)
                    byte += 64
                }
                let taps = min(CorrelationTile.inputs, patchSize - p0)
                let first = 4 * block
                let target = partial + first * patchSize + p0
                for r in 0..<min(4, outChannels - first) {
                    let v = tile.row(r)
                    store(v.0, v.1, v.2, v.3, v.4, taps, target + r * patchSize)
                }
                p0 += CorrelationTile.inputs
            }
        }
    }

    /// target[t] += lane sum of vector t, for t < taps.
    @inline(__always)
    private static func store(_ s0: SIMD16<Float>, _ s1: SIMD16<Float>, _ s2: SIMD16<Float>, _ s3: SIMD16<Float>,
                              _ s4: SIMD16<Float>, _ taps: Int, _ target: UnsafeMutablePointer<Float>) {
        target[0] += s0.sum()
        if taps > 1 { target[1] += s1.sum() }
        if taps > 2 { target[2] += s2.sum() }
        if taps > 3 { target[3] += s3.sum() }
        if taps > 4 { target[4] += s4.sum() }
    }
}

/// The register tile of both weight-gradient layouts (`StackedCorrelation`, `LaneConvolution.correlate`):
/// 4 gradient rows × 5 shifted input vectors in 20 `SIMD16<Float>` accumulators, 9 loads per 20 FMAs.
struct CorrelationTile {
    /// Input vectors (patch entries) per tile.
    static let inputs = 5

    /// Entries of `patchOffsets`' table: the patch padded to whole tiles.
    static func patchOffsetCount(_ g: ConvolutionGeometry) -> Int { (g.patchSize + inputs - 1) / inputs * inputs }

    /// offset(ci, kh, kw) of every patch entry in (ci, kh, kw) order, padded with zeros to whole tiles (the
    /// padding entries' sums are dropped). The caller deallocates.
    static func patchOffsets(_ g: ConvolutionGeometry, _ offset: (Int, Int, Int) -> Int) -> UnsafeMutablePointer<Int> {
        let count = patchOffsetCount(g)
        let offsets = UnsafeMutablePointer<Int>.allocate(capacity: count)
        offsets.initialize(repeating: 0, count: count)
        var p = 0
        for ci in 0..<g.groupInChannels {
            for kh in 0..<g.kernelHeight {
                for kw in 0..<g.kernelWidth {
                    offsets[p] = offset(ci, kh, kw)
                    p += 1
                }
            }
        }
        return offsets
    }

    var a00 = SIMD16<Float>(), a01 = SIMD16<Float>(), a02 = SIMD16<Float>(), a03 = SIMD16<Float>(), a04 = SIMD16<Float>()
    var a10 = SIMD16<Float>(), a11 = SIMD16<Float>(), a12 = SIMD16<Float>(), a13 = SIMD16<Float>(), a14 = SIMD16<Float>()
    var a20 = SIMD16<Float>(), a21 = SIMD16<Float>(), a22 = SIMD16<Float>(), a23 = SIMD16<Float>(), a24 = SIMD16<Float>()
    var a30 = SIMD16<Float>(), a31 = SIMD16<Float>(), a32 = SIMD16<Float>(), a33 = SIMD16<Float>(), a34 = SIMD16<Float>()

    /// The 5 accumulators of gradient row r < 4.
    @inline(__always)
    func row(_ r: Int) -> (SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>) {
        switch r {
        case 0: (a00, a01, a02, a03, a04)
        case 1: (a10, a11, a12, a13, a14)
        case 2: (a20, a21, a22, a23, a24)
        default: (a30, a31, a32, a33, a34)
        }
    }

    /// a_rt += gradient row r (at gradientByte + r·rowBytes) · input t (at x_t + inputByte).
    @inline(__always)
    mutating func add(gradient g: UnsafeRawPointer, rowBytes: Int, gradientByte: Int, _ x0: UnsafeRawPointer,
                      _ x1: UnsafeRawPointer, _ x2: UnsafeRawPointer, _ x3: UnsafeRawPointer, _ x4: UnsafeRawPointer,
                      inputByte: Int) {
        let g0 = g.loadUnaligned(fromByteOffset: gradientByte, as: SIMD16<Float>.self)
        let g1 = g.loadUnaligned(fromByteOffset: gradientByte + rowBytes, as: SIMD16<Float>.self)
        let g2 = g.loadUnaligned(fromByteOffset: gradientByte + 2 * rowBytes, as: SIMD16<Float>.self)
        let g3 = g.loadUnaligned(fromByteOffset: gradientByte + 3 * rowBytes, as: SIMD16<Float>.self)
        var x = x0.loadUnaligned(fromByteOffset: inputByte, as: SIMD16<Float>.self)
        a00 = a00.addingProduct(g0, x); a10 = a10.addingProduct(g1, x)
        a20 = a20.addingProduct(g2, x); a30 = a30.addingProduct(g3, x)
        x = x1.loadUnaligned(fromByteOffset: inputByte, as: SIMD16<Float>.self)
        a01 = a01.addingProduct(g0, x); a11 = a11.addingProduct(g1, x)
        a21 = a21.addingProduct(g2, x); a31 = a31.addingProduct(g3, x)
        x = x2.loadUnaligned(fromByteOffset: inputByte, as: SIMD16<Float>.self)
        a02 = a02.addingProduct(g0, x); a12 = a12.addingProduct(g1, x)
        a22 = a22.addingProduct(g2, x); a32 = a32.addingProduct(g3, x)
        x = x3.loadUnaligned(fromByteOffset: inputByte, as: SIMD16<Float>.self)
        a03 = a03.addingProduct(g0, x); a13 = a13.addingProduct(g1, x)
        a23 = a23.addingProduct(g2, x); a33 = a33.addingProduct(g3, x)
        x = x4.loadUnaligned(fromByteOffset: inputByte, as: SIMD16<Float>.self)
        a04 = a04.addingProduct(g0, x); a14 = a14.addingProduct(g1, x)
        a24 = a24.addingProduct(g2, x); a34 = a34.addingProduct(g3, x)
    }
}
