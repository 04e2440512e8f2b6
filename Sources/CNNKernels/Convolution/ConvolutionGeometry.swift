/// How a convolution extends its input beyond the border (PyTorch's `padding_mode`).
///
/// `zeros` is built into every backend. The other modes follow PyTorch, which pads the input with
/// `F.pad(mode)` and then convolves with zero padding 0: `makeConvolution` wraps the backend in a
/// padding stage (`PaddedConvolution`) that does exactly that.
public enum ConvolutionPaddingMode: String, CaseIterable, Sendable {
    case zeros
    /// Mirror without repeating the edge pixel (`… 2 1 | 0 1 2 … | …`); PyTorch needs padding < size.
    case reflect
    /// Repeat the edge pixel.
    case replicate
    /// Wrap around (periodic); PyTorch needs padding ≤ size.
    case circular
}

/// Shape of one 2-D convolution layer (NCHW activations, weights [out, in/groups, kh, kw]), with PyTorch's
/// options: per-axis dilation, groups, asymmetric padding (`padding='same'` with even kernels puts the odd
/// pixel bottom/right) and the padding mode.
public struct ConvolutionGeometry: Hashable, Sendable {
    /// Capacity: calls pass an actual batch ≤ this.
    public var batch: Int
    public var inChannels, inHeight, inWidth, outChannels: Int
    public var kernelHeight, kernelWidth, strideHeight, strideWidth: Int
    /// Zero (or mode) rows above / below and columns left / right of the input.
    public var paddingTop, paddingBottom, paddingLeft, paddingRight: Int
    /// Distance between kernel taps (1: adjacent).
    public var dilationHeight, dilationWidth: Int
    /// Input and output channels split into `groups` independent convolutions (both divisible by it).
    public var groups: Int
    public var paddingMode: ConvolutionPaddingMode

    /// Full form: asymmetric padding and every option.
    public init(batch: Int, inChannels: Int, inHeight: Int, inWidth: Int, outChannels: Int,
                kernelHeight: Int, kernelWidth: Int, strideHeight: Int, strideWidth: Int,
                paddingTop: Int, paddingBottom: Int, paddingLeft: Int, paddingRight: Int,
                dilationHeight: Int = 1, dilationWidth: Int = 1, groups: Int = 1,
                paddingMode: ConvolutionPaddingMode = .zeros) {
        self.batch = batch
        self.inChannels = inChannels
        self.inHeight = inHeight
        self.inWidth = inWidth
        self.outChannels = outChannels
        self.kernelHeight = kernelHeight
        self.kernelWidth = kernelWidth
        self.strideHeight = strideHeight
        self.strideWidth = strideWidth
        self.paddingTop = paddingTop
        self.paddingBottom = paddingBottom
        self.paddingLeft = paddingLeft
        self.paddingRight = paddingRight
        self.dilationHeight = dilationHeight
        self.dilationWidth = dilationWidth
        self.groups = groups
        self.paddingMode = paddingMode
    }

    /// Symmetric padding (PyTorch's integer `padding`): `paddingHeight` rows on top and bottom,
    /// `paddingWidth` columns left and right.
    public init(batch: Int, inChannels: Int, inHeight: Int, inWidth: Int, outChannels: Int,
                kernelHeight: Int, kernelWidth: Int, strideHeight: Int, strideWidth: Int,
                paddingHeight: Int, paddingWidth: Int,
                dilationHeight: Int = 1, dilationWidth: Int = 1, groups: Int = 1,
                paddingMode: ConvolutionPaddingMode = .zeros) {
        self.init(batch: batch, inChannels: inChannels, inHeight: inHeight, inWidth: inWidth, outChannels: outChannels,
                  kernelHeight: kernelHeight, kernelWidth: kernelWidth, strideHeight: strideHeight,
                  strideWidth: strideWidth, paddingTop: paddingHeight, paddingBottom: paddingHeight,
                  paddingLeft: paddingWidth, paddingRight: paddingWidth, dilationHeight: dilationHeight,
                  dilationWidth: dilationWidth, groups: groups, paddingMode: paddingMode)
    }

    /// PyTorch's `padding='same'` along one axis (stride 1): D·(K − 1) padding in total, the smaller half
    /// before and the odd pixel after (bottom / right), as `F.pad` receives it.
    public static func samePadding(kernel: Int, dilation: Int = 1) -> (begin: Int, end: Int) {
        let total = max(0, dilation * (kernel - 1))
        return (total / 2, total - total / 2)
    }

    /// Symmetric vertical padding (the top padding; setting it sets top and bottom).
    public var paddingHeight: Int {
        get { paddingTop }
        set { paddingTop = newValue; paddingBottom = newValue }
    }
    /// Symmetric horizontal padding (the left padding; setting it sets left and right).
    public var paddingWidth: Int {
        get { paddingLeft }
        set { paddingLeft = newValue; paddingRight = newValue }
    }

    /// Input rows including padding, H + P_top + P_bottom.
    var paddedHeight: Int { inHeight + paddingTop + paddingBottom }
    /// Input columns including padding, W + P_left + P_right.
    var paddedWidth: Int { inWidth + paddingLeft + paddingRight }
    /// Rows the dilated kernel spans, D·(K − 1) + 1.
    var kernelExtentHeight: Int { dilationHeight * (kernelHeight - 1) + 1 }
    /// Columns the dilated kernel spans.
    var kernelExtentWidth: Int { dilationWidth * (kernelWidth - 1) + 1 }

    /// ⌊(H + P_top + P_bottom − D·(K − 1) − 1)/S⌋ + 1.
    public var outHeight: Int { (paddedHeight - kernelExtentHeight) / max(strideHeight, 1) + 1 }
    /// ⌊(W + P_left + P_right − D·(K − 1) − 1)/S⌋ + 1.
    public var outWidth: Int { (paddedWidth - kernelExtentWidth) / max(strideWidth, 1) + 1 }

    /// Input channels each output channel sees, Cin/groups.
    var groupInChannels: Int { inChannels / max(groups, 1) }
    /// Output channels of one group, Cout/groups.
    var groupOutChannels: Int { outChannels / max(groups, 1) }
    /// Elements of one input image, Cin·H·W.
    var inputImageSize: Int { inChannels * inHeight * inWidth }
    /// Elements of one output image, Cout·OH·OW.
    var outputImageSize: Int { outChannels * outHeight * outWidth }
    /// Output pixels per channel, OH·OW.
    var outPlane: Int { outHeight * outWidth }
    /// Elements of one output channel's weights, (Cin/groups)·KH·KW (= one group's lowered patch).
    var patchSize: Int { groupInChannels * kernelHeight * kernelWidth }
    /// Elements of the weight tensor [Cout, Cin/groups, KH, KW].
    public var weightCount: Int { outChannels * patchSize }
    /// Whether every side's padding is zero.
    var isUnpadded: Bool { paddingTop == 0 && paddingBottom == 0 && paddingLeft == 0 && paddingRight == 0 }
    /// 1×1 kernel, stride 1, no padding: the input already is the lowered matrix.
    var isPointwise: Bool {
        kernelHeight == 1 && kernelWidth == 1 && strideHeight == 1 && strideWidth == 1 && isUnpadded
    }
    /// groups = Cin (each input channel convolved alone), Cout = multiplier·Cin.
    public var isDepthwise: Bool { groups == inChannels && groups > 0 }
    /// Whether the padding mode needs the padding stage (reflect, replicate, circular with some padding).
    var needsPaddingStage: Bool { paddingMode != .zeros && !isUnpadded }
    /// Multiply-adds of one image's forward pass, Cout·OH·OW·(Cin/groups)·KH·KW.
    public var macsPerImage: Int { outputImageSize * patchSize }

    /// The geometry the backend sees behind the padding stage: the padded input, no padding.
    var paddedInputGeometry: ConvolutionGeometry {
        var inner = self
        inner.inHeight = paddedHeight
        inner.inWidth = paddedWidth
        inner.paddingTop = 0
        inner.paddingBottom = 0
        inner.paddingLeft = 0
        inner.paddingRight = 0
        inner.paddingMode = .zeros
        return inner
    }

    /// Largest value of any single size, stride, padding or dilation: far beyond any real layer, and small
    /// enough that the extents computed from them (padded sizes, D·(K − 1)) cannot overflow.
    static let maximumDimension = 1 << 24

    /// Why this geometry cannot be computed, or nil when it can.
    var problem: String? {
        if batch < 1 || inChannels < 1 || outChannels < 1 || inHeight < 1 || inWidth < 1 {
            return "batch, channels and input size must be positive"
        }
        let dimensions = [batch, inChannels, inHeight, inWidth, outChannels, kernelHeight, kernelWidth, strideHeight,
                          strideWidth, paddingTop, paddingBottom, paddingLeft, paddingRight, dilationHeight,
                          dilationWidth, groups]
        if dimensions.contains(where: { $0 > ConvolutionGeometry.maximumDimension }) {
            return "sizes, strides, paddings, dilations and groups must not exceed \(ConvolutionGeometry.maximumDimension)"
        }
        if kernelHeight < 1 || kernelWidth < 1 { return "kernel size must be positive" }
        if strideHeight < 1 || strideWidth < 1 { return "stride must be positive" }
        if dilationHeight < 1 || dilationWidth < 1 {
            return "dilation must be at least 1 (got \(dilationHeight)×\(dilationWidth))"
        }
        if paddingTop < 0 || paddingBottom < 0 || paddingLeft < 0 || paddingRight < 0 {
            return "padding must not be negative"
        }
        if groups < 1 { return "groups must be at least 1 (got \(groups))" }
        if inChannels % groups != 0 || outChannels % groups != 0 {
            return "in channels (\(inChannels)) and out channels (\(outChannels)) must both be divisible by "
                + "groups (\(groups))"
        }
        switch paddingMode {
        case .zeros, .replicate: break
        case .reflect:
            if max(paddingTop, paddingBottom) >= inHeight || max(paddingLeft, paddingRight) >= inWidth {
                return "reflect padding must be smaller than the input size: padding top/bottom/left/right "
                    + "\(paddingTop)/\(paddingBottom)/\(paddingLeft)/\(paddingRight) on a \(inHeight)×\(inWidth) input"
            }
        case .circular:
            if max(paddingTop, paddingBottom) > inHeight || max(paddingLeft, paddingRight) > inWidth {
                return "circular padding must not exceed the input size: padding top/bottom/left/right "
                    + "\(paddingTop)/\(paddingBottom)/\(paddingLeft)/\(paddingRight) on a \(inHeight)×\(inWidth) input"
            }
        }
        if paddedHeight < kernelExtentHeight || paddedWidth < kernelExtentWidth {
            let dilated = dilationHeight > 1 || dilationWidth > 1 ? " (dilated)" : ""
            return "kernel\(dilated) \(kernelExtentHeight)×\(kernelExtentWidth) is larger than the padded input "
                + "\(paddedHeight)×\(paddedWidth)"
        }
        return nil
    }
}
