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
    /// images' positions, for co < outChannels and p < patchSize, in `target`'s `CorrelationTile`. `offsets`
    /// holds `CorrelationTile.paddedCount(patchSize)` entries (padding entries may be any valid offset; their
    /// sums are dropped).
    static func accumulate(grid: StackedGrid, images count: Int, input: UnsafePointer<Float>,
                           gradient: UnsafePointer<Float>, outChannels: Int, offsets: UnsafePointer<Int>,
                           patchSize: Int, partial: UnsafeMutablePointer<Float>, target: KernelTarget) {
        target.visit(Accumulate(grid: grid, count: count, input: input, gradient: gradient, outChannels: outChannels,
                                offsets: offsets, patchSize: patchSize, partial: partial))
    }

    /// `accumulate`'s arguments, run with the target's spec.
    private struct Accumulate: KernelTargetVisitor {
        let grid: StackedGrid, count: Int, input: UnsafePointer<Float>, gradient: UnsafePointer<Float>
        let outChannels: Int, offsets: UnsafePointer<Int>, patchSize: Int, partial: UnsafeMutablePointer<Float>

        func visit<Spec: KernelTargetSpec>(_ spec: Spec.Type) {
            let rows = Spec.correlationRows, inputs = Spec.correlationInputs
            let stride = grid.length(images: grid.images)
            let end = 4 * grid.length(images: count)
            let rowBytes = 4 * stride, vector = MemoryLayout<CorrelationTile.Lanes>.stride
            for first in Swift.stride(from: 0, to: outChannels, by: rows) {
                let g = UnsafeRawPointer(gradient + first * stride)
                var p0 = 0
                while p0 < patchSize {
                    let x = CorrelationTile.Inputs(UnsafeRawPointer(input), offsets + p0, count: inputs)
                    var tile = CorrelationTile()
                    var byte = 0
                    while byte < end {
                        tile.add(gradient: g, rowBytes: rowBytes, gradientByte: byte, x, inputByte: byte, rows: rows,
                                 inputs: inputs)
                        byte += vector
                    }
                    let taps = min(inputs, patchSize - p0)
                    let target = partial + first * patchSize + p0
                    for r in 0..<min(rows, outChannels - first) {
                        tile.forEach(row: r, inputs: taps) { t, sum in target[r * patchSize + t] += sum.sum() }
                    }
                    p0 += inputs
                }
            }
        }
    }
}

/// The register tile of both weight-gradient layouts (`StackedCorrelation`, `LaneConvolution.correlate`):
/// `rows` gradient rows × `inputs` shifted input vectors, one 16-float accumulator each — 4 × 5 (20
/// accumulators, 9 loads per 20 FMAs) in AVX-512's 32 registers, 2 × 3 in AVX2's 16; the sizes are the kernel
/// target's (`KernelTargetSpec.correlationRows`, `correlationInputs`) and constants at every call, so the
/// unused accumulators fold away.
struct CorrelationTile {
    /// One accumulator: 16 floats (a lane vector, or 16 positions of the stacked layout).
    typealias Lanes = SIMD16<Float>
    /// The largest tile any target uses.
    static let maximumRows = 4, maximumInputs = 5

    /// Entries of a patch-offset table for `patchSize`: padded so that a tile of any target's input count
    /// starting at any entry below patchSize stays inside it.
    static func paddedCount(_ patchSize: Int) -> Int { patchSize + maximumInputs - 1 }

    /// Entries of `patchOffsets`' table for `g`.
    static func patchOffsetCount(_ g: ConvolutionGeometry) -> Int { paddedCount(g.patchSize) }

    /// offset(ci, kh, kw) of every patch entry in (ci, kh, kw) order, padded with zeros to `paddedCount` (the
    /// padding entries' sums are dropped). The caller deallocates.
    static func patchOffsets(_ g: ConvolutionGeometry, _ offset: (Int, Int, Int) -> Int) -> UnsafeMutablePointer<Int> {
        let count = paddedCount(g.patchSize)
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

    /// The tile's input pointers: float `offsets[t]` past `base` (unused ones repeat the first).
    struct Inputs {
        let x0: UnsafeRawPointer, x1: UnsafeRawPointer, x2: UnsafeRawPointer, x3: UnsafeRawPointer, x4: UnsafeRawPointer

        @inline(__always)
        init(_ base: UnsafeRawPointer, _ offsets: UnsafePointer<Int>, count: Int) {
            @inline(__always) func at(_ t: Int) -> UnsafeRawPointer {
                base + MemoryLayout<Float>.stride * offsets[t < count ? t : 0]
            }
            x0 = at(0); x1 = at(1); x2 = at(2); x3 = at(3); x4 = at(4)
        }
    }

    var a00 = Lanes(), a01 = Lanes(), a02 = Lanes(), a03 = Lanes(), a04 = Lanes()
    var a10 = Lanes(), a11 = Lanes(), a12 = Lanes(), a13 = Lanes(), a14 = Lanes()
    var a20 = Lanes(), a21 = Lanes(), a22 = Lanes(), a23 = Lanes(), a24 = Lanes()
    var a30 = Lanes(), a31 = Lanes(), a32 = Lanes(), a33 = Lanes(), a34 = Lanes()

    /// Calls `body(t, accumulator)` for the first `inputs` accumulators of gradient row r.
    @inline(__always)
    func forEach(row r: Int, inputs: Int, _ body: (Int, Lanes) -> Void) {
        let row: (Lanes, Lanes, Lanes, Lanes, Lanes)
        switch r {
        case 0: row = (a00, a01, a02, a03, a04)
        case 1: row = (a10, a11, a12, a13, a14)
        case 2: row = (a20, a21, a22, a23, a24)
        default: row = (a30, a31, a32, a33, a34)  // r == 3: tiles hold at most `maximumRows`
        }
        body(0, row.0)
        if inputs > 1 { body(1, row.1) }
        if inputs > 2 { body(2, row.2) }
        if inputs > 3 { body(3, row.3) }
        if inputs > 4 { body(4, row.4) }
    }

    /// a_rt += gradient row r (at gradientByte + r·rowBytes) · input t (at x_t + inputByte), for r < rows and
    /// t < inputs.
    @inline(__always)
    mutating func add(gradient g: UnsafeRawPointer, rowBytes: Int, gradientByte: Int, _ x: Inputs, inputByte: Int,
                      rows: Int, inputs: Int) {
        let g0 = g.loadUnaligned(fromByteOffset: gradientByte, as: Lanes.self)
        let g1 = rows > 1 ? g.loadUnaligned(fromByteOffset: gradientByte + rowBytes, as: Lanes.self) : Lanes()
        let g2 = rows > 2 ? g.loadUnaligned(fromByteOffset: gradientByte + 2 * rowBytes, as: Lanes.self) : Lanes()
        let g3 = rows > 3 ? g.loadUnaligned(fromByteOffset: gradientByte + 3 * rowBytes, as: Lanes.self) : Lanes()
        @inline(__always) func column(_ v: Lanes, _ a0: inout Lanes, _ a1: inout Lanes, _ a2: inout Lanes, _ a3: inout Lanes) {
            a0 = a0.addingProduct(g0, v)
            if rows > 1 { a1 = a1.addingProduct(g1, v) }
            if rows > 2 { a2 = a2.addingProduct(g2, v) }
            if rows > 3 { a3 = a3.addingProduct(g3, v) }
        }
        column(x.x0.loadUnaligned(fromByteOffset: inputByte, as: Lanes.self), &a00, &a10, &a20, &a30)
        if inputs > 1 { column(x.x1.loadUnaligned(fromByteOffset: inputByte, as: Lanes.self), &a01, &a11, &a21, &a31) }
        if inputs > 2 { column(x.x2.loadUnaligned(fromByteOffset: inputByte, as: Lanes.self), &a02, &a12, &a22, &a32) }
        if inputs > 3 { column(x.x3.loadUnaligned(fromByteOffset: inputByte, as: Lanes.self), &a03, &a13, &a23, &a33) }
        if inputs > 4 { column(x.x4.loadUnaligned(fromByteOffset: inputByte, as: Lanes.self), &a04, &a14, &a24, &a34) }
    }
}
