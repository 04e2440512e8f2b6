/// im2col / col2im for one image: the lowered matrix has one row per (ci, kh, kw) weight position and
/// one column per output pixel, `col[(ci·KH + kh)·KW + kw][oh·OW + ow] = input[ci][oh·S − P_top + kh·D][ow·S − P_left + kw·D]`
/// (zero where that falls into the padding). Rows are ordered by input channel, so group g's rows are the
/// contiguous block g·(Cin/groups)·KH·KW ..< (g + 1)·(Cin/groups)·KH·KW.
enum PatchLowering {
    /// The output columns `ow` whose input column `ow·S − P + offset` lies inside 0..<width.
    @inline(__always)
    static func validRange(offset: Int, stride: Int, padding: Int, width: Int, outWidth: Int) -> Range<Int> {
        // ow·S − P + offset ≥ 0  ⇔  ow ≥ ceil((P − offset)/S)
        let shifted = padding - offset
        let lower = shifted <= 0 ? 0 : (shifted + stride - 1) / stride
        // ow·S − P + offset ≤ width − 1  ⇔  ow ≤ floor((width − 1 + P − offset)/S)
        let top = width - 1 + padding - offset
        let upper = top < 0 ? 0 : min(outWidth, top / stride + 1)
        return min(lower, upper)..<upper
    }

    /// Lowers `image[Cin, H, W]` into `col[Cin·KH·KW, OH·OW]` (zero padding). `rowStride` (default
    /// OH·OW) places the image's columns inside a wider matrix holding a whole batch side by side.
    static func im2col(_ g: ConvolutionGeometry, image: UnsafePointer<Float>, col: UnsafeMutablePointer<Float>,
                       rowStride: Int? = nil) {
        let oh = g.outHeight, ow = g.outWidth, plane = rowStride ?? oh * ow
        if preservesPlane(g) {
            shiftedIm2col(g, image: image, col: col, rowStride: plane)
            return
        }
        var row = 0
        for ci in 0..<g.inChannels {
            let channel = image + ci * g.inHeight * g.inWidth
            for kh in 0..<g.kernelHeight {
                for kw in 0..<g.kernelWidth {
                    let out = col + row * plane
                    let columns = validRange(offset: kw * g.dilationWidth, stride: g.strideWidth,
                                             padding: g.paddingLeft, width: g.inWidth, outWidth: ow)
                    for y in 0..<oh {
                        let line = out + y * ow
                        let ih = y * g.strideHeight - g.paddingTop + kh * g.dilationHeight
                        if ih < 0 || ih >= g.inHeight || columns.isEmpty {
                            line.update(repeating: 0, count: ow)
                            continue
                        }
                        if columns.lowerBound > 0 { line.update(repeating: 0, count: columns.lowerBound) }
                        if columns.upperBound < ow {
                            (line + columns.upperBound).update(repeating: 0, count: ow - columns.upperBound)
                        }
                        let source = channel + ih * g.inWidth - g.paddingLeft + kw * g.dilationWidth
                        if g.strideWidth == 1 {
                            (line + columns.lowerBound).update(from: source + columns.lowerBound,
                                                               count: columns.count)
                        } else {
                            for x in columns { line[x] = source[x * g.strideWidth] }
                        }
                    }
                    row += 1
                }
            }
        }
    }

    /// Accumulates the lowered gradient `col[Cin·KH·KW, OH·OW]` (row stride `rowStride`, default OH·OW)
    /// back into `image[Cin, H, W]`, which it first overwrites with zeros.
    static func col2im(_ g: ConvolutionGeometry, col: UnsafePointer<Float>, rowStride: Int? = nil,
                       image: UnsafeMutablePointer<Float>) {
        let oh = g.outHeight, ow = g.outWidth, plane = rowStride ?? oh * ow
        image.update(repeating: 0, count: g.inputImageSize)
        if preservesPlane(g) {
            shiftedCol2im(g, col: col, rowStride: plane, image: image)
            return
        }
        var row = 0
        for ci in 0..<g.inChannels {
            let channel = image + ci * g.inHeight * g.inWidth
            for kh in 0..<g.kernelHeight {
                for kw in 0..<g.kernelWidth {
                    let source = col + row * plane
                    let columns = validRange(offset: kw * g.dilationWidth, stride: g.strideWidth,
                                             padding: g.paddingLeft, width: g.inWidth, outWidth: ow)
                    row += 1
                    if columns.isEmpty { continue }
                    for y in 0..<oh {
                        let ih = y * g.strideHeight - g.paddingTop + kh * g.dilationHeight
                        if ih < 0 || ih >= g.inHeight { continue }
                        let line = source + y * ow
                        let target = channel + ih * g.inWidth - g.paddingLeft + kw * g.dilationWidth
                        if g.strideWidth == 1 {
                            for x in columns { target[x] += line[x] }
                        } else {
                            for x in columns { target[x * g.strideWidth] += line[x] }
                        }
                    }
                }
            }
        }
    }

    // MARK: - Stride 1, output the input's size

    /// True for stride 1, undilated layers whose output has the input's height and width (3×3 pad 1, the
    /// ResNet case). Then row (ci, kh, kw) of `col` is channel ci shifted by d = (kh − P_top)·W + (kw − P_left):
    /// `col[row][i] = channel[i + d]`, except for the lines and the column band whose source lies in the padding.
    static func preservesPlane(_ g: ConvolutionGeometry) -> Bool {
        g.strideHeight == 1 && g.strideWidth == 1 && g.dilationHeight == 1 && g.dilationWidth == 1
            && g.outHeight == g.inHeight && g.outWidth == g.inWidth
    }

    /// The pixels of one shifted row: `lines` (output lines whose source line is inside the image),
    /// `copied` (the plane indices i whose source i + d is inside the channel; the pixels of `lines`
    /// minus at most the band at either end), `columns` (output columns whose source column is inside).
    private struct Shift {
        let d: Int, lines: Range<Int>, copied: Range<Int>, columns: Range<Int>

        init(_ g: ConvolutionGeometry, kh: Int, kw: Int) {
            let width = g.inWidth, height = g.inHeight, dy = kh - g.paddingTop, dx = kw - g.paddingLeft
            d = dy * width + dx
            let firstLine = min(height, max(0, -dy)), endLine = max(firstLine, min(height, height - dy))
            lines = firstLine..<endLine
            let lower = max(firstLine * width, -d)
            copied = min(lower, endLine * width)..<max(min(lower, endLine * width), min(endLine * width, height * width - d))
            let firstColumn = min(width, max(0, -dx))
            columns = firstColumn..<max(firstColumn, min(width, width - dx))
        }
    }

    /// `im2col` of a plane-preserving layer: one contiguous shifted copy per row, then zeros over the
    /// padding's lines and column band (for a 4×4 or 8×8 plane this replaces OH short copies per row).
    private static func shiftedIm2col(_ g: ConvolutionGeometry, image: UnsafePointer<Float>,
                                      col: UnsafeMutablePointer<Float>, rowStride: Int) {
        let width = g.inWidth, size = g.inHeight * width
        forEachShiftedRow(g) { row, ci, shift in
            let out = col + row * rowStride, channel = image + ci * size
            fillZeros(out, count: shift.copied.lowerBound)
            copy(from: channel + shift.copied.lowerBound + shift.d, to: out + shift.copied.lowerBound,
                 count: shift.copied.count)
            fillZeros(out + shift.copied.upperBound, count: size - shift.copied.upperBound)
            if shift.columns.count < width {
                for y in shift.lines {
                    let line = out + y * width
                    for x in 0..<shift.columns.lowerBound { line[x] = 0 }
                    for x in shift.columns.upperBound..<width { line[x] = 0 }
                }
            }
        }
    }

    /// Calls `body(row, ci, shift)` for every row of a plane-preserving layer's col matrix ((ci, kh, kw) order).
    @inline(__always)
    private static func forEachShiftedRow(_ g: ConvolutionGeometry, _ body: (Int, Int, Shift) -> Void) {
        var row = 0
        for ci in 0..<g.inChannels {
            for kh in 0..<g.kernelHeight {
                for kw in 0..<g.kernelWidth {
                    body(row, ci, Shift(g, kh: kh, kw: kw))
                    row += 1
                }
            }
        }
    }

    /// `col2im` of a plane-preserving layer into a zeroed image: rows without a column band add one
    /// contiguous shifted range, the others line by line over the valid columns.
    private static func shiftedCol2im(_ g: ConvolutionGeometry, col: UnsafePointer<Float>, rowStride: Int,
                                      image: UnsafeMutablePointer<Float>) {
        let width = g.inWidth, size = g.inHeight * width
        forEachShiftedRow(g) { row, ci, shift in
            let source = col + row * rowStride, channel = image + ci * size
            if shift.columns.count == width {
                let start = shift.lines.lowerBound * width
                add(source + start, into: channel + start + shift.d, count: shift.lines.count * width)
            } else if !shift.columns.isEmpty {
                for y in shift.lines {
                    let first = y * width + shift.columns.lowerBound
                    add(source + first, into: channel + first + shift.d, count: shift.columns.count)
                }
            }
        }
    }

    /// Writes `count` zeros (inline: the rows of small planes are too short for a memset call to pay).
    @inline(__always)
    private static func fillZeros(_ target: UnsafeMutablePointer<Float>, count: Int) {
        var x = 0
        while x + 16 <= count {
            UnsafeMutableRawPointer(target + x).storeBytes(of: SIMD16<Float>(), as: SIMD16<Float>.self)
            x += 16
        }
        while x < count { target[x] = 0; x += 1 }
    }

    /// Copies `count` floats (inline, see `fillZeros`).
    @inline(__always)
    private static func copy(from source: UnsafePointer<Float>, to target: UnsafeMutablePointer<Float>, count: Int) {
        var x = 0
        while x + 16 <= count {
            UnsafeMutableRawPointer(target + x).storeBytes(of: UnsafeRawPointer(source + x).loadUnaligned(as: SIMD16<Float>.self),
                                                           as: SIMD16<Float>.self)
            x += 16
        }
        while x < count { target[x] = source[x]; x += 1 }
    }

    /// target[x] += source[x] for x < count.
    @inline(__always)
    private static func add(_ source: UnsafePointer<Float>, into target: UnsafeMutablePointer<Float>, count: Int) {
        var x = 0
        while x + 16 <= count {
            let sum = UnsafeRawPointer(target + x).loadUnaligned(as: SIMD16<Float>.self)
                + UnsafeRawPointer(source + x).loadUnaligned(as: SIMD16<Float>.self)
            UnsafeMutableRawPointer(target + x).storeBytes(of: sum, as: SIMD16<Float>.self)
            x += 16
        }
        while x < count { target[x] += source[x]; x += 1 }
    }

    /// gradBias[co] = Σ over batch and pixels of gradOutput[n][co].
    static func biasGradient(_ g: ConvolutionGeometry, batch: Int, gradOutput: UnsafePointer<Float>,
                             gradBias: UnsafeMutablePointer<Float>) {
        let plane = g.outPlane
        for co in 0..<g.outChannels {
            var total = SIMD16<Float>()
            var tail: Float = 0
            for n in 0..<batch {
                let source = gradOutput + (n * g.outChannels + co) * plane
                var x = 0
                while x + 16 <= plane {
                    total += UnsafeRawPointer(source + x).loadUnaligned(as: SIMD16<Float>.self)
                    x += 16
                }
                while x < plane { tail += source[x]; x += 1 }
            }
            gradBias[co] = total.sum() + tail
        }
    }

    /// Writes bias[co] into every pixel of channel co of `count` consecutive output images.
    static func fillBias(_ g: ConvolutionGeometry, images count: Int, bias: UnsafePointer<Float>,
                         output: UnsafeMutablePointer<Float>) {
        let plane = g.outPlane
        for n in 0..<count {
            for co in 0..<g.outChannels {
                (output + (n * g.outChannels + co) * plane).update(repeating: bias[co], count: plane)
            }
        }
    }
}

/// op(B) = the lowered matrix `col[Cin·KH·KW, count·OH·OW]` of `count` consecutive images (im2col's
/// layout with the images side by side), packed into GEMM micro-panels straight from the images:
/// implicit im2col (or colᵀ, `transposed`). BatchedIm2ColConvolution's GEMMs so read their patches from
/// the cache-resident input instead of writing, then re-reading, a lowered matrix KH·KW times larger.
/// Ungrouped layers only (one group's rows span all input channels).
struct PatchPanels {
    let geometry: ConvolutionGeometry
    /// The first of the `count` images.
    let images: UnsafePointer<Float>
    let count: Int
    /// Column of the lowered matrix that op(B) column 0 stands for (a thread's share starts past 0).
    let firstColumn: Int
    /// `fillSourceTable`'s table: for each kernel position and output pixel, the offset of its source
    /// in the input channel or −1 (padding); then, per kernel position, the shift d of `preservesPlane`.
    let sources: UnsafePointer<Int32>
    /// True when op(B) is colᵀ (`packTransposed`) rather than col (`pack`).
    let transposed: Bool

    /// Int32 entries of the source table of `g`.
    static func sourceCount(_ g: ConvolutionGeometry) -> Int {
        g.kernelHeight * g.kernelWidth * (g.outPlane + 1)
    }

    /// Fills `table` (`sourceCount(g)` entries).
    static func fillSourceTable(_ g: ConvolutionGeometry, into table: UnsafeMutablePointer<Int32>) {
        let plane = g.outPlane, positions = g.kernelHeight * g.kernelWidth
        for kh in 0..<g.kernelHeight {
            for kw in 0..<g.kernelWidth {
                let row = table + (kh * g.kernelWidth + kw) * plane
                for oh in 0..<g.outHeight {
                    let ih = oh * g.strideHeight - g.paddingTop + kh * g.dilationHeight
                    for ow in 0..<g.outWidth {
                        let iw = ow * g.strideWidth - g.paddingLeft + kw * g.dilationWidth
                        let inside = ih >= 0 && ih < g.inHeight && iw >= 0 && iw < g.inWidth
                        row[oh * g.outWidth + ow] = inside ? Int32(ih * g.inWidth + iw) : -1
                    }
                }
                table[positions * plane + kh * g.kernelWidth + kw] =
                    Int32((kh - g.paddingTop) * g.inWidth + kw - g.paddingLeft)
            }
        }
    }

    func dropping(columns j: Int) -> PatchPanels {
        PatchPanels(geometry: geometry, images: images, count: count, firstColumn: firstColumn + j, sources: sources,
                    transposed: transposed)
    }

    /// Packs op(B)[row..<row+k, column..<column+n] in `GEMMPacking.packB`'s layout (zeros past the
    /// last column). Plane-preserving layers whose plane is a multiple of 16 take each 16-column half
    /// of a full panel (starting at a multiple of 16) as one shifted contiguous load with the padding
    /// masked off; the rest go pixel by pixel.
    func pack(k: Int, n: Int, row: Int, column: Int, nr: Int, into dst: UnsafeMutablePointer<Float>) {
        let g = geometry, plane = g.outPlane, size = g.inHeight * g.inWidth
        let positions = g.kernelHeight * g.kernelWidth, imageSize = g.inputImageSize
        let half = PatchPanels.half
        let shifted = PatchLowering.preservesPlane(g) && plane % half == 0
        // Other layers on 16-multiple planes (ResNet's stride-2 and 1×1 downsample convolutions) gather
        // each 16-pixel half through the source table (`gatheredLoad`) instead of going pixel by pixel.
        let gathered = !shifted && plane % half == 0
        // Unmasked loads stay inside the images (the masked lanes of a shifted load may reach a neighbour channel).
        let start = images, end = images + count * imageSize
        let shifts = sources + positions * plane
        var j0 = 0
        while j0 < n {
            let out = dst + j0 * k
            let first = firstColumn + column + j0, columns = min(nr, n - j0)
            if (shifted || gathered) && columns == nr && first % half == 0 {
                // The panel's 16-pixel groups (nr is a multiple of 16), each inside one image.
                for h in stride(from: 0, to: nr, by: half) {
                    let pixel = (first + h) % plane
                    let image = images + (first + h) / plane * imageSize
                    var channel = row / positions * size, position = row % positions
                    for p in 0..<k {
                        let table = sources + position * plane
                        let o = out + p * nr + h
                        if shifted {
                            self.half(from: image + pixel + channel + Int(shifts[position]), valid: table + pixel,
                                      start: start, end: end, into: o)
                        } else {
                            UnsafeMutableRawPointer(o).storeBytes(
                                of: PatchPanels.gatheredLoad(from: image + channel, offsets: table + pixel),
                                as: PatchPanels.Group.self)
                        }
                        position += 1
                        if position == positions { position = 0; channel += size }
                    }
                }
            } else {
                for c in 0..<columns {
                    let image = images + (first + c) / plane * imageSize, pixel = (first + c) % plane
                    var channel = row / positions * size, position = row % positions
                    for p in 0..<k {
                        let offset = Int(sources[position * plane + pixel])
                        out[p * nr + c] = offset >= 0 ? image[channel + offset] : 0
                        position += 1
                        if position == positions { position = 0; channel += size }
                    }
                }
                for c in columns..<nr { for p in 0..<k { out[p * nr + c] = 0 } }
            }
            j0 += nr
        }
    }

    /// Packs op(B) = colᵀ[row..<row+k, column..<column+n] (op(B) rows are col's columns, the images'
    /// pixels; op(B) columns are col's rows, the patch positions; `firstColumn` counts col rows) in
    /// `GEMMPacking.packB`'s layout, zeros past the last column: the backward-weights product
    /// G · colᵀ without a lowered col. Plane-preserving layers on 16-multiple planes load 16 pixels of
    /// 16 col rows as shifted masked loads and transpose them in registers; the rest goes pixel by pixel.
    func packTransposed(k: Int, n: Int, row: Int, column: Int, nr: Int, into dst: UnsafeMutablePointer<Float>) {
        let g = geometry, plane = g.outPlane, size = g.inHeight * g.inWidth
        let positions = g.kernelHeight * g.kernelWidth, imageSize = g.inputImageSize
        let block = PatchPanels.half
        let shifted = PatchLowering.preservesPlane(g) && plane % block == 0 && row % block == 0
        // Other layers on 16-multiple planes: the same 16×16 blocks, each row gathered through the table.
        let gathered = !shifted && plane % block == 0 && row % block == 0
        let start = images, end = images + count * imageSize
        let shifts = sources + positions * plane
        let blockedSteps = shifted || gathered ? k / block * block : 0
        var j0 = 0
        while j0 < n {
            let out = dst + j0 * k
            let first = firstColumn + column + j0, columns = min(nr, n - j0)
            var p0 = 0
            while p0 < blockedSteps {
                let image = images + (row + p0) / plane * imageSize, pixel = (row + p0) % plane
                var c0 = 0
                while c0 < nr {
                    let zero = SIMD16<Float>()
                    var v: Transpose16.Block = (zero, zero, zero, zero, zero, zero, zero, zero,
                                                  zero, zero, zero, zero, zero, zero, zero, zero)
                    withUnsafeMutableBytes(of: &v) { rows in
                        // Col rows first + c0 + c: channel and kernel position, advanced row by row.
                        var channel = (first + c0) / positions * size, position = (first + c0) % positions
                        for c in 0..<max(0, min(block, columns - c0)) {
                            let values = gathered
                                ? PatchPanels.gatheredLoad(from: image + channel, offsets: sources + position * plane + pixel)
                                : shiftedLoad(from: image + channel + pixel + Int(shifts[position]),
                                              valid: sources + position * plane + pixel, start: start, end: end)
                            rows.storeBytes(of: values, toByteOffset: c * MemoryLayout<SIMD16<Float>>.stride,
                                             as: SIMD16<Float>.self)
                            position += 1
                            if position == positions { position = 0; channel += size }
                        }
                    }
                    v = Transpose16.transpose(v)
                    @inline(__always) func store(_ p: Int, _ value: SIMD16<Float>) {
                        UnsafeMutableRawPointer(out + (p0 + p) * nr + c0).storeBytes(of: value, as: SIMD16<Float>.self)
                    }
                    store(0, v.0); store(1, v.1); store(2, v.2); store(3, v.3)
                    store(4, v.4); store(5, v.5); store(6, v.6); store(7, v.7)
                    store(8, v.8); store(9, v.9); store(10, v.10); store(11, v.11)
                    store(12, v.12); store(13, v.13); store(14, v.14); store(15, v.15)
                    c0 += block
                }
                p0 += block
            }
            if blockedSteps < k {
                for c in 0..<columns {
                    let channel = (first + c) / positions * size, table = sources + (first + c) % positions * plane
                    var imageOffset = (row + blockedSteps) / plane * imageSize, pixel = (row + blockedSteps) % plane
                    for p in blockedSteps..<k {
                        let offset = Int(table[pixel])
                        out[p * nr + c] = offset >= 0 ? images[imageOffset + channel + offset] : 0
                        pixel += 1
                        if pixel == plane { pixel = 0; imageOffset += imageSize }
                    }
                }
                for c in columns..<nr { for p in blockedSteps..<k { out[p * nr + c] = 0 } }
            }
            j0 += nr
        }
    }

    /// Columns per shifted load (one `Group`): the 16-pixel groups that fill whole GEMM panels.
    static let half = GEMMMicroKernel.columnGroup
    /// One shifted or gathered load of `half` pixels.
    typealias Group = SIMD16<Float>

    /// Writes 16 pixels of a shifted row: `source` is pixel 0's shifted source, `valid` its table entries
    /// (negative in the padding, zeroed).
    @inline(__always)
    private func half(from source: UnsafePointer<Float>, valid: UnsafePointer<Int32>, start: UnsafePointer<Float>,
                      end: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(out).storeBytes(of: shiftedLoad(from: source, valid: valid, start: start, end: end),
                                                as: SIMD16<Float>.self)
    }

    /// `base[offsets[l]]` for the 16 lanes l, zero where the offset is negative (padding): clamped indices,
    /// 16 loads, then the padding masked off (every read stays at or past `base`, inside the channel).
    @inline(__always)
    static func gatheredLoad(from base: UnsafePointer<Float>, offsets: UnsafePointer<Int32>) -> SIMD16<Float> {
        let table = UnsafeRawPointer(offsets).loadUnaligned(as: SIMD16<Int32>.self)
        let keep = ~(table &>> 31)
        let index = table & keep
        var values = SIMD16<Float>()
        for lane in 0..<PatchPanels.half { values[lane] = base[Int(index[lane])] }
        return unsafeBitCast(unsafeBitCast(values, to: SIMD16<Int32>.self) & keep, to: SIMD16<Float>.self)
    }

    /// 16 pixels of a shifted row (see `half`), read as one load when it stays inside start..<end.
    @inline(__always)
    private func shiftedLoad(from source: UnsafePointer<Float>, valid: UnsafePointer<Int32>,
                             start: UnsafePointer<Float>, end: UnsafePointer<Float>) -> SIMD16<Float> {
        let offsets = UnsafeRawPointer(valid).loadUnaligned(as: SIMD16<Int32>.self)
        if source >= start && source + PatchPanels.half <= end {
            // All ones where the offset is ≥ 0, zero where it is −1 (the SIMD mask API lowers lane by lane).
            let keep = unsafeBitCast(~(offsets &>> 31), to: SIMD16<UInt32>.self)
            let values = UnsafeRawPointer(source).loadUnaligned(as: SIMD16<UInt32>.self)
            return unsafeBitCast(values & keep, to: SIMD16<Float>.self)
        }
        var values = SIMD16<Float>()
        for lane in 0..<PatchPanels.half where offsets[lane] >= 0 { values[lane] = source[lane] }
        return values
    }
}
