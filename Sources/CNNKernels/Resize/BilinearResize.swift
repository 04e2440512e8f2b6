/// Bilinear resize of Float planes as PyTorch's `F.interpolate(mode="bilinear", align_corners=False)`.
public enum BilinearResize {
    /// Resizes each of `planes` row-major `inputHeight`×`inputWidth` planes of `source` into
    /// `outputHeight`×`outputWidth` planes of `destination`. No allocation.
    public static func resize(_ source: UnsafePointer<Float>, planes: Int, inputHeight: Int, inputWidth: Int,
                              into destination: UnsafeMutablePointer<Float>, outputHeight: Int, outputWidth: Int) {
        let scaleY = Float(inputHeight) / Float(outputHeight)
        let scaleX = Float(inputWidth) / Float(outputWidth)
        for plane in 0..<planes {
            let input = source + plane * inputHeight * inputWidth
            let output = destination + plane * outputHeight * outputWidth
            for y in 0..<outputHeight {
                let (y0, y1, wy1) = sourceIndex(y, scale: scaleY, size: inputHeight)
                let wy0 = 1 - wy1
                for x in 0..<outputWidth {
                    let (x0, x1, wx1) = sourceIndex(x, scale: scaleX, size: inputWidth)
                    let wx0 = 1 - wx1
                    let top = wx0 * input[y0 * inputWidth + x0] + wx1 * input[y0 * inputWidth + x1]
                    let bottom = wx0 * input[y1 * inputWidth + x0] + wx1 * input[y1 * inputWidth + x1]
                    output[y * outputWidth + x] = wy0 * top + wy1 * bottom
                }
            }
        }
    }

    /// PyTorch's `area_pixel_compute_source_index` for align_corners=False: the two neighbours and the
    /// weight of the second.
    @inline(__always)
    private static func sourceIndex(_ index: Int, scale: Float, size: Int) -> (Int, Int, Float) {
        let position = max(0, scale * (Float(index) + 0.5) - 0.5)
        let lower = min(Int(position), size - 1)
        let upper = lower < size - 1 ? lower + 1 : lower
        return (lower, upper, position - Float(lower))
    }
}
