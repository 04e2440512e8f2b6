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
        var row = 0
        for ci in 0..<g.inChannels {
            let channel = image + ci * size
            for kh in 0..<g.kernelHeight {
                for kw in 0..<g.kernelWidth {
                    let out = col + row * rowStride
                    let shift = Shift(g, kh: kh, kw: kw)
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
        var row = 0
        for ci in 0..<g.inChannels {
            let channel = image + ci * size
            for kh in 0..<g.kernelHeight {
                for kw in 0..<g.kernelWidth {
                    let source = col + row * rowStride
                    let shift = Shift(g, kh: kh, kw: kw)
                    if shift.columns.count == width {
                        let start = shift.lines.lowerBound * width
                        add(source + start, into: channel + start + shift.d, count: shift.lines.count * width)
                    } else if !shift.columns.isEmpty {
                        for y in shift.lines {
                            let first = y * width + shift.columns.lowerBound
                            add(source + first, into: channel + first + shift.d, count: shift.columns.count)
                        }
                    }
                    row += 1
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
