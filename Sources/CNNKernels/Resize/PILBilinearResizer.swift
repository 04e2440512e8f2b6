/// Bilinear resize of 8-bit planes exactly as Pillow's `Image.resize(size, BILINEAR)` (what
/// torchvision's `Resize` does to a PIL image): a triangle filter widened by the scale when shrinking
/// (antialiasing), 22-bit fixed-point weights, a horizontal then a vertical pass, each rounded to 8 bits.
///
/// The coefficients are computed once at init; `resize` allocates nothing and may run concurrently
/// on different scratch buffers.
public final class PILBilinearResizer: @unchecked Sendable {
    public let inputHeight: Int
    public let inputWidth: Int
    public let outputHeight: Int
    public let outputWidth: Int
    /// Bytes of scratch `resize` needs per plane (the horizontally resized intermediate).
    public var scratchCount: Int { inputHeight * outputWidth }

    private let horizontal: Coefficients
    private let vertical: Coefficients

    private static let precisionBits = 32 - 8 - 2

    /// Per output index: first input index, number of taps, and `ksize` fixed-point weights.
    private struct Coefficients {
        var first: [Int] = []
        var count: [Int] = []
        var weights: [Int32] = []
        var kernelSize = 0
    }

    public init(inputHeight: Int, inputWidth: Int, outputHeight: Int, outputWidth: Int) {
        self.inputHeight = inputHeight; self.inputWidth = inputWidth
        self.outputHeight = outputHeight; self.outputWidth = outputWidth
        horizontal = Self.coefficients(inputSize: inputWidth, outputSize: outputWidth)
        vertical = Self.coefficients(inputSize: inputHeight, outputSize: outputHeight)
    }

    /// Pillow's `precompute_coeffs` + `normalize_coeffs_8bpc` for the bilinear (triangle) filter.
    private static func coefficients(inputSize: Int, outputSize: Int) -> Coefficients {
        let scale = Double(inputSize) / Double(outputSize)
        let filterScale = max(scale, 1)
        let support = 1.0 * filterScale
        var result = Coefficients()
        result.kernelSize = Int(support.rounded(.up)) * 2 + 1
        var weights = [Double](repeating: 0, count: result.kernelSize)
        for index in 0..<outputSize {
            let center = (Double(index) + 0.5) * scale
            let first = max(0, Int(center - support + 0.5))
            let count = min(inputSize, Int(center + support + 0.5)) - first
            var total = 0.0
            for tap in 0..<result.kernelSize {
                var weight = 0.0
                if tap < count {
                    let x = abs((Double(tap + first) - center + 0.5) / filterScale)
                    weight = x < 1 ? 1 - x : 0
                }
                weights[tap] = weight
                total += weight
            }
            let one = Double(1 << precisionBits)
            for tap in 0..<result.kernelSize {
                let normalised = total != 0 ? weights[tap] / total : weights[tap]
                result.weights.append(Int32(normalised < 0 ? -0.5 + normalised * one : 0.5 + normalised * one))
            }
            result.first.append(first)
            result.count.append(count)
        }
        return result
    }

    @inline(__always)
    private static func clip8(_ value: Int32) -> UInt8 {
        if value >= Int32(1 << (precisionBits + 8)) { return 255 }
        if value <= 0 { return 0 }
        return UInt8(truncatingIfNeeded: value >> Int32(precisionBits))
    }

    /// Resizes one plane; `scratch` must hold `scratchCount` bytes.
    public func resize(_ source: UnsafePointer<UInt8>, into destination: UnsafeMutablePointer<UInt8>,
                       scratch: UnsafeMutablePointer<UInt8>) {
        let rounding = Int32(1 << (Self.precisionBits - 1))
        horizontal.weights.withUnsafeBufferPointer { weights in
            let size = horizontal.kernelSize
            for y in 0..<inputHeight {
                let row = source + y * inputWidth
                for x in 0..<outputWidth {
                    let first = horizontal.first[x]
                    var sum = rounding
                    for tap in 0..<horizontal.count[x] { sum &+= Int32(row[first + tap]) &* weights[x * size + tap] }
                    scratch[y * outputWidth + x] = Self.clip8(sum)
                }
            }
        }
        vertical.weights.withUnsafeBufferPointer { weights in
            let size = vertical.kernelSize
            for y in 0..<outputHeight {
                let first = vertical.first[y]
                for x in 0..<outputWidth {
                    var sum = rounding
                    for tap in 0..<vertical.count[y] {
                        sum &+= Int32(scratch[(first + tap) * outputWidth + x]) &* weights[y * size + tap]
                    }
                    destination[y * outputWidth + x] = Self.clip8(sum)
                }
            }
        }
    }
}
