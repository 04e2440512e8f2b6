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
