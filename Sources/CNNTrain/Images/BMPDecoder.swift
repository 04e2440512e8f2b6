/// Reads uncompressed Windows bitmaps (the `.bmp` that torchvision's ImageFolder also accepts):
/// 1/4/8-bit palette, 24-bit BGR and 32-bit BGRX/BGRA (BI_RGB or BI_BITFIELDS with byte-aligned masks),
/// bottom-up or top-down. RLE-compressed files are refused by name. Alpha of 32-bit files is composited
/// onto `background` like PNG's. Every size is checked against the file before anything is allocated.
public enum BMPDecoder {
    /// True when `bytes` start with the bitmap signature "BM" and are long enough for its headers.
    public static func isBMP(_ bytes: [UInt8]) -> Bool { bytes.count >= 26 && bytes[0] == 0x42 && bytes[1] == 0x4D }

    /// Decodes `bytes` (the whole file) into grey (when the palette is grey) or RGB.
    public static func decode(_ bytes: [UInt8], path: String, background: UInt8 = 255) throws(ImageError) -> RasterImage {
        func fail(_ problem: String) -> ImageError { ImageError(path: path, problem: problem) }
        func u32(_ at: Int) -> UInt32 { UInt32(bytes[at]) | UInt32(bytes[at + 1]) << 8 | UInt32(bytes[at + 2]) << 16 | UInt32(bytes[at + 3]) << 24 }
        func u16(_ at: Int) -> Int { Int(bytes[at]) | Int(bytes[at + 1]) << 8 }
        guard isBMP(bytes) else { throw fail("not a BMP file (the BM signature is missing)") }
        let dataOffset = Int(u32(10)), headerSize = Int(u32(14))
        guard headerSize >= 40, 14 + headerSize <= bytes.count else {
            throw fail("corrupt or unsupported BMP: info header of \(headerSize) bytes (only BITMAPINFOHEADER and later are read)")
        }
        let width = Int(Int32(bitPattern: u32(18))), signedHeight = Int(Int32(bitPattern: u32(22)))
        let bits = u16(28), compression = u32(30)
        let height = abs(signedHeight), topDown = signedHeight < 0
        guard width > 0, height > 0, width <= PNGDecoder.maximumPixels / height else {
            throw fail("BMP size \(width)×\(height) is empty or too large (at most \(PNGDecoder.maximumPixels) pixels)")
        }
        guard [1, 4, 8, 24, 32].contains(bits) else { throw fail("BMP with \(bits) bits per pixel is not supported (1, 4, 8, 24, 32)") }
        let bitfields: UInt32 = 3
        guard compression == 0 || (compression == bitfields && bits == 32) else {
            throw fail("compressed BMP (compression \(compression)) is not supported; save it uncompressed or as PNG")
        }
        var shifts: [Int] = [16, 8, 0, 24]  // R, G, B, A bit positions of BGRA
        if compression == bitfields {
            guard 14 + 40 + 12 <= bytes.count else { throw fail("corrupt BMP: the colour masks are cut off") }
            let masks = [u32(54), u32(58), u32(62), headerSize >= 56 ? u32(66) : 0]
            for (index, mask) in masks.enumerated() {
                let shift = mask.trailingZeroBitCount
                guard mask == 0 || (shift % 8 == 0 && mask >> shift == 0xFF) else {
                    throw fail("BMP colour mask \(String(mask, radix: 16)) is not a whole byte; save it as 24-bit or PNG")
                }
                shifts[index] = mask == 0 ? -1 : shift
            }
        }
        let rowBytes = ((width * bits + 31) / 32) * 4
        guard dataOffset >= 14 + headerSize, dataOffset <= bytes.count, rowBytes <= (bytes.count - dataOffset) / height else {
            throw fail("truncated BMP: \(width)×\(height) at \(bits) bits needs \(rowBytes * height) pixel bytes from byte \(dataOffset), the file has \(bytes.count) bytes")
        }
        var palette: [[UInt8]] = []
        if bits <= 8 {
            let declared = Int(u32(46))
            let entries = declared == 0 ? 1 << bits : declared
            let start = 14 + headerSize
            guard entries <= 1 << bits, start + 4 * entries <= dataOffset else { throw fail("corrupt BMP: the palette does not fit before the pixels") }
            palette = (0..<entries).map { [bytes[start + 4 * $0 + 2], bytes[start + 4 * $0 + 1], bytes[start + 4 * $0]] }
        }
        let grey = bits <= 8 && palette.allSatisfy { $0[0] == $0[1] && $0[1] == $0[2] }
        let channels = grey ? 1 : 3
        var pixels = [UInt8](repeating: 0, count: width * height * channels)
        for y in 0..<height {
            let row = dataOffset + (topDown ? y : height - 1 - y) * rowBytes
            for x in 0..<width {
                var rgb: [UInt8]
                switch bits {
                case 24: rgb = [bytes[row + 3 * x + 2], bytes[row + 3 * x + 1], bytes[row + 3 * x]]
                case 32:
                    let value = u32(row + 4 * x)
                    func channel(_ index: Int) -> UInt8 { shifts[index] < 0 ? 255 : UInt8((value >> UInt32(shifts[index])) & 0xFF) }
                    let alpha = compression == bitfields ? UInt32(channel(3)) : 255
                    rgb = (0..<3).map { UInt8((UInt32(channel($0)) * alpha + UInt32(background) * (255 - alpha) + 127) / 255) }
                default:
                    let perByte = 8 / bits
                    let byte = bytes[row + x / perByte]
                    let index = Int(byte >> UInt8(8 - bits * (x % perByte + 1))) & ((1 << bits) - 1)
                    guard index < palette.count else { throw fail("corrupt BMP: palette index \(index) beyond the \(palette.count)-entry palette") }
                    rgb = palette[index]
                }
                if grey { pixels[y * width + x] = rgb[0] } else {
                    for channel in 0..<3 { pixels[(y * width + x) * 3 + channel] = rgb[channel] }
                }
            }
        }
        return RasterImage(width: width, height: height, channels: channels, pixels: pixels)
    }
}
