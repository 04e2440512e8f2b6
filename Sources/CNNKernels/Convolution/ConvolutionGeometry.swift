/// Shape of one 2-D convolution layer (NCHW activations, weights [out, in, kh, kw]).
public struct ConvolutionGeometry: Hashable, Sendable {
    /// Capacity: calls pass an actual batch ≤ this.
    public var batch: Int
    public var inChannels, inHeight, inWidth, outChannels: Int
    public var kernelHeight, kernelWidth, strideHeight, strideWidth, paddingHeight, paddingWidth: Int

    public init(batch: Int, inChannels: Int, inHeight: Int, inWidth: Int, outChannels: Int,
                kernelHeight: Int, kernelWidth: Int, strideHeight: Int, strideWidth: Int,
                paddingHeight: Int, paddingWidth: Int) {
        self.batch = batch
        self.inChannels = inChannels
        self.inHeight = inHeight
        self.inWidth = inWidth
        self.outChannels = outChannels
        self.kernelHeight = kernelHeight
        self.kernelWidth = kernelWidth
        self.strideHeight = strideHeight
        self.strideWidth = strideWidth
        self.paddingHeight = paddingHeight
        self.paddingWidth = paddingWidth
    }

    /// (H + 2P − K)/S + 1, floor.
    public var outHeight: Int {
        floorModeOutputSize(input: inHeight, kernel: kernelHeight, stride: strideHeight, padding: paddingHeight)
    }
    /// (W + 2P − K)/S + 1, floor.
    public var outWidth: Int {
        floorModeOutputSize(input: inWidth, kernel: kernelWidth, stride: strideWidth, padding: paddingWidth)
    }

    /// Elements of one input image, Cin·H·W.
    var inputImageSize: Int { inChannels * inHeight * inWidth }
    /// Elements of one output image, Cout·OH·OW.
    var outputImageSize: Int { outChannels * outHeight * outWidth }
    /// Output pixels per channel, OH·OW.
    var outPlane: Int { outHeight * outWidth }
    /// Length of one lowered patch, Cin·KH·KW (= elements of one output channel's weights).
    var patchSize: Int { inChannels * kernelHeight * kernelWidth }
    /// 1×1 kernel, stride 1, no padding: the input already is the lowered matrix.
    var isPointwise: Bool {
        kernelHeight == 1 && kernelWidth == 1 && strideHeight == 1 && strideWidth == 1
            && paddingHeight == 0 && paddingWidth == 0
    }
    /// Multiply-adds of one image's forward pass.
    public var macsPerImage: Int { outputImageSize * patchSize }

    /// Why this geometry cannot be computed, or nil when it can.
    var problem: String? {
        if batch < 1 || inChannels < 1 || outChannels < 1 || inHeight < 1 || inWidth < 1 {
            return "batch, channels and input size must be positive"
        }
        if kernelHeight < 1 || kernelWidth < 1 { return "kernel size must be positive" }
        if strideHeight < 1 || strideWidth < 1 { return "stride must be positive" }
        if paddingHeight < 0 || paddingWidth < 0 { return "padding must not be negative" }
        if inHeight + 2 * paddingHeight < kernelHeight || inWidth + 2 * paddingWidth < kernelWidth {
            return "kernel \(kernelHeight)×\(kernelWidth) is larger than the padded input "
                + "\(inHeight + 2 * paddingHeight)×\(inWidth + 2 * paddingWidth)"
        }
        return nil
    }
}
