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
