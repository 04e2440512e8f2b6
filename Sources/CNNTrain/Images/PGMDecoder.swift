/// Reads Netpbm grey (PGM: P5 binary, P2 ASCII) and colour (PPM: P6 binary) files with maxval ≤ 65535;
/// 16-bit samples and other maxvals are rescaled to 0…255.
public enum PGMDecoder {
    /// True when `bytes` start with a supported Netpbm magic number.
    public static func isNetpbm(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 2 && bytes[0] == UInt8(ascii: "P") && [UInt8(ascii: "2"), UInt8(ascii: "5"), UInt8(ascii: "6")].contains(bytes[1])
    }

    /// Decodes `bytes` (the whole file); `path` names the file in errors.
    public static func decode(_ bytes: [UInt8], path: String) throws(ImageError) -> RasterImage {
        func fail(_ problem: String) -> ImageError { ImageError(path: path, problem: problem) }
        guard isNetpbm(bytes) else { throw fail("not a PGM/PPM file (expected magic P5, P2 or P6)") }
        let kind = bytes[1]
        var offset = 2
        func skipSpaceAndComments() {
            while offset < bytes.count {
                if bytes[offset] == UInt8(ascii: "#") {
                    while offset < bytes.count && bytes[offset] != 10 && bytes[offset] != 13 { offset += 1 }
                } else if [9, 10, 11, 12, 13, 32].contains(bytes[offset]) {
                    offset += 1
                } else { return }
            }
        }
        func number(_ name: String) throws(ImageError) -> Int {
            skipSpaceAndComments()
            var value = 0, digits = 0
            while offset < bytes.count, bytes[offset] >= 48, bytes[offset] <= 57 {
                value = value * 10 + Int(bytes[offset] - 48); digits += 1; offset += 1
                guard value <= 1 << 24 else { throw fail("\(name) in the header is too large") }
            }
            guard digits > 0 else { throw fail("corrupt header: expected the \(name) as a decimal number at byte \(offset)") }
            return value
        }
        let width = try number("width"), height = try number("height"), maxValue = try number("maximum value")
        guard width > 0, height > 0, width <= PNGDecoder.maximumPixels / height else { throw fail("size \(width)×\(height) is empty or too large") }
        guard maxValue > 0, maxValue <= 65535 else { throw fail("maximum value \(maxValue) must be 1…65535") }
        let channels = kind == UInt8(ascii: "6") ? 3 : 1
        let count = width * height * channels
        var samples = [Int](repeating: 0, count: count)
        if kind == UInt8(ascii: "2") {
            for index in 0..<count {
                do { samples[index] = try number("pixel \(index)") } catch {
                    throw fail("truncated PGM: \(index) of \(count) pixel values present")
                }
            }
        } else {
            offset += 1  // exactly one whitespace byte after maxval
            let wide = maxValue > 255 ? 2 : 1
            guard bytes.count - offset >= count * wide else {
                throw fail("truncated file: \(width)×\(height) needs \(count * wide) pixel bytes, \(max(0, bytes.count - offset)) present")
            }
            for index in 0..<count {
                samples[index] = wide == 1 ? Int(bytes[offset + index]) : Int(bytes[offset + 2 * index]) << 8 | Int(bytes[offset + 2 * index + 1])
            }
        }
        var pixels = [UInt8](repeating: 0, count: count)
        for index in 0..<count {
            guard samples[index] <= maxValue else { throw fail("pixel \(index) is \(samples[index]), above the maximum value \(maxValue)") }
            pixels[index] = maxValue == 255 ? UInt8(samples[index]) : UInt8((samples[index] * 255 + maxValue / 2) / maxValue)
        }
        return RasterImage(width: width, height: height, channels: channels, pixels: pixels)
    }
}
