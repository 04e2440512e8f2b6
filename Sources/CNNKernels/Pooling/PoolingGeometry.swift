/// Shape of one 2-D pooling layer over NCHW planes (PyTorch `max_pool2d` / `avg_pool2d`, dilation 1).
public struct PoolingGeometry: Hashable, Sendable {
    public var channels: Int
    public var inHeight: Int
    public var inWidth: Int
    public var kernelHeight: Int
    public var kernelWidth: Int
    public var strideHeight: Int
    public var strideWidth: Int
    public var paddingHeight: Int
    public var paddingWidth: Int
    /// PyTorch `ceil_mode`: keep a last, partial window (see `poolingOutputSize`). The partial window is
    /// clipped to the input like padded ones; average pooling's divisor follows from that clipping.
    public var ceilMode: Bool

    public init(channels: Int, inHeight: Int, inWidth: Int, kernelHeight: Int, kernelWidth: Int,
                strideHeight: Int, strideWidth: Int, paddingHeight: Int, paddingWidth: Int, ceilMode: Bool = false) {
        self.channels = channels
        self.inHeight = inHeight
        self.inWidth = inWidth
        self.kernelHeight = kernelHeight
        self.kernelWidth = kernelWidth
        self.strideHeight = strideHeight
        self.strideWidth = strideWidth
        self.paddingHeight = paddingHeight
        self.paddingWidth = paddingWidth
        self.ceilMode = ceilMode
    }

    /// Output rows: (H + 2P − K) / S + 1, rounded down, or up in ceil mode (`poolingOutputSize`).
    public var outHeight: Int {
        poolingOutputSize(input: inHeight, kernel: kernelHeight, stride: strideHeight, padding: paddingHeight, ceilMode: ceilMode)
    }
    /// Output columns: (W + 2P − K) / S + 1, rounded down, or up in ceil mode (`poolingOutputSize`).
    public var outWidth: Int {
        poolingOutputSize(input: inWidth, kernel: kernelWidth, stride: strideWidth, padding: paddingWidth, ceilMode: ceilMode)
    }

    var inPlane: Int { inHeight * inWidth }
    var outPlane: Int { outHeight * outWidth }

    /// True for the 2×2, stride 2, unpadded window that the SIMD fast paths handle. Those read full
    /// 2×2 windows only, so ceil mode on an odd side (a last window of one row or column) goes the
    /// generic way.
    var isTwoByTwoStrideTwo: Bool {
        kernelHeight == 2 && kernelWidth == 2 && strideHeight == 2 && strideWidth == 2
            && paddingHeight == 0 && paddingWidth == 0 && inHeight >= 2 && inWidth >= 2
            && 2 * outHeight <= inHeight && 2 * outWidth <= inWidth
    }

    /// Zeroes the elements of an input plane that no 2×2 stride-2 window covers (floor mode drops an
    /// odd last row and column); the 2×2 backward passes write every other element themselves.
    func zeroTwoByTwoRemainder(_ plane: UnsafeMutablePointer<Float>) {
        let coveredRows = 2 * outHeight, coveredColumns = 2 * outWidth
        if coveredColumns < inWidth {
            for row in 0..<coveredRows {
                for column in coveredColumns..<inWidth { plane[row * inWidth + column] = 0 }
            }
        }
        for row in coveredRows..<inHeight {
            Elementwise.fill(count: inWidth, value: 0, plane + row * inWidth)
        }
    }

    /// Window of output (row, column) clipped to the input: rows `rows`, columns `columns`.
    @inline(__always) func window(outRow: Int, outColumn: Int) -> (rows: Range<Int>, columns: Range<Int>) {
        let rowStart = outRow * strideHeight - paddingHeight
        let columnStart = outColumn * strideWidth - paddingWidth
        return (max(rowStart, 0)..<min(rowStart + kernelHeight, inHeight),
                max(columnStart, 0)..<min(columnStart + kernelWidth, inWidth))
    }
}

/// Runs `body(context, first, end)` over the (image, channel) planes `0..<planes`, spread over the pool
/// in contiguous runs of planes. No heap allocation.
@inline(__always) func forEachPoolingPlane<Context>(_ planes: Int, planeCost: Int, pool: ThreadPool, context: Context,
                                                    _ body: ParallelRangeTask) {
    let minimumPlanes = max(1, 8_192 / max(planeCost, 1))
    pool.parallelFor(planes, minimumChunk: minimumPlanes, context: context, body)
}

