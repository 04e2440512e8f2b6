import CZlib
import Foundation

/// Reads non-interlaced 8-bit PNG files: grey, grey+alpha, RGB, RGBA and palette images (alpha is
/// dropped, palettes expanded to RGB). Every chunk's CRC is checked; a damaged file gives an
/// `ImageError` that says what is wrong, never a crash.
public enum PNGDecoder {
    static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
    /// Refuse pictures larger than this many pixels (a corrupt header must not allocate gigabytes).
    static let maximumPixels = 16 << 20

    /// True when `bytes` start with the PNG signature.
    public static func isPNG(_ bytes: [UInt8]) -> Bool { bytes.starts(with: signature) }

    /// Decodes `bytes` (the whole file); `path` names the file in errors.
    public static func decode(_ bytes: [UInt8], path: String) throws(ImageError) -> RasterImage {
        func fail(_ problem: String) -> ImageError { ImageError(path: path, problem: problem) }
        guard isPNG(bytes) else { throw fail("not a PNG file (the PNG signature is missing)") }
        var offset = signature.count
        var width = 0, height = 0, colorType = -1
        var palette: [UInt8] = []
        var idat: [UInt8] = []
        var sawEnd = false
        while offset < bytes.count {
            guard offset + 12 <= bytes.count else { throw fail("truncated PNG: chunk header at byte \(offset) is cut off") }
            let length = Int(readBigEndian(bytes, offset))
            let type = String(decoding: bytes[(offset + 4)..<(offset + 8)], as: UTF8.self)
            guard length <= bytes.count - offset - 12 else { throw fail("truncated PNG: chunk \(type) claims \(length) bytes but the file ends first") }
            let body = Array(bytes[(offset + 8)..<(offset + 8 + length)])
            let storedCRC = readBigEndian(bytes, offset + 8 + length)
            guard storedCRC == crc(Data(bytes[(offset + 4)..<(offset + 8 + length)])) else {
                throw fail("corrupt PNG: CRC mismatch in chunk \(type) at byte \(offset)")
            }
            offset += 12 + length
            switch type {
            case "IHDR":
                guard length == 13 else { throw fail("corrupt PNG: IHDR has \(length) bytes, expected 13") }
                width = Int(readBigEndian(body, 0)); height = Int(readBigEndian(body, 4))
                let depth = Int(body[8]); colorType = Int(body[9])
                guard width > 0, height > 0, width <= maximumPixels / height else {
                    throw fail("PNG size \(width)×\(height) is empty or too large")
                }
                guard depth == 8 else {
                    throw fail("PNG bit depth \(depth) is not supported (only 8-bit images)")
                }
                guard [0, 2, 3, 4, 6].contains(colorType) else { throw fail("corrupt PNG: unknown color type \(colorType)") }
                guard body[10] == 0, body[11] == 0 else { throw fail("corrupt PNG: unknown compression or filter method") }
                guard body[12] == 0 else { throw fail("interlaced PNGs are not supported; save the image without interlacing") }
            case "PLTE": palette = body
            case "IDAT": idat.append(contentsOf: body)
            case "IEND": sawEnd = true
            default: break
            }
            if sawEnd { break }
        }
        guard colorType >= 0 else { throw fail("corrupt PNG: no IHDR chunk") }
        guard !idat.isEmpty else { throw fail("corrupt PNG: no image data (IDAT)") }
        let samplesPerPixel = [0: 1, 2: 3, 3: 1, 4: 2, 6: 4][colorType] ?? 1
        let rowBytes = width * samplesPerPixel
        var raw = [UInt8](repeating: 0, count: height * (rowBytes + 1))
        var rawCount = uLongf(raw.count)
        let status = uncompress(&raw, &rawCount, idat, uLong(idat.count))
        guard status == Z_OK, Int(rawCount) == raw.count else {
            throw fail("corrupt PNG: the image data does not decompress to \(width)×\(height) pixels (zlib status \(status))")
        }
        var filtered = [UInt8](repeating: 0, count: height * rowBytes)
        try unfilter(raw, into: &filtered, rowBytes: rowBytes, height: height, bytesPerPixel: samplesPerPixel, fail: fail)
        switch colorType {
        case 0: return RasterImage(width: width, height: height, channels: 1, pixels: filtered)
        case 2: return RasterImage(width: width, height: height, channels: 3, pixels: filtered)
        case 4: return RasterImage(width: width, height: height, channels: 1, pixels: stride(from: 0, to: filtered.count, by: 2).map { filtered[$0] })
        case 6:
            var rgb = [UInt8](); rgb.reserveCapacity(width * height * 3)
            for pixel in 0..<(width * height) { rgb.append(contentsOf: filtered[(pixel * 4)..<(pixel * 4 + 3)]) }
            return RasterImage(width: width, height: height, channels: 3, pixels: rgb)
        default:
            var rgb = [UInt8](); rgb.reserveCapacity(width * height * 3)
            for index in filtered {
                guard Int(index) * 3 + 3 <= palette.count else { throw fail("corrupt PNG: palette index \(index) outside the PLTE chunk") }
                rgb.append(contentsOf: palette[(Int(index) * 3)..<(Int(index) * 3 + 3)])
            }
            return RasterImage(width: width, height: height, channels: 3, pixels: rgb)
        }
    }

    /// Undoes the per-row PNG filters (None, Sub, Up, Average, Paeth).
    private static func unfilter(_ raw: [UInt8], into out: inout [UInt8], rowBytes: Int, height: Int, bytesPerPixel: Int,
                                 fail: (String) -> ImageError) throws(ImageError) {
        for y in 0..<height {
            let filter = raw[y * (rowBytes + 1)]
            let source = y * (rowBytes + 1) + 1
            let row = y * rowBytes
            for x in 0..<rowBytes {
                let value = raw[source + x]
                let left = x >= bytesPerPixel ? Int(out[row + x - bytesPerPixel]) : 0
                let up = y > 0 ? Int(out[row - rowBytes + x]) : 0
                let upLeft = (y > 0 && x >= bytesPerPixel) ? Int(out[row - rowBytes + x - bytesPerPixel]) : 0
                let predictor: Int
                switch filter {
                case 0: predictor = 0
                case 1: predictor = left
                case 2: predictor = up
                case 3: predictor = (left + up) / 2
                case 4: predictor = paeth(left, up, upLeft)
                default: throw fail("corrupt PNG: unknown filter type \(filter) on row \(y)")
                }
                out[row + x] = UInt8(truncatingIfNeeded: Int(value) + predictor)
            }
        }
    }

    /// The PNG Paeth predictor.
    static func paeth(_ left: Int, _ up: Int, _ upLeft: Int) -> Int {
        let estimate = left + up - upLeft
        let distanceLeft = abs(estimate - left), distanceUp = abs(estimate - up), distanceUpLeft = abs(estimate - upLeft)
        return distanceLeft <= distanceUp && distanceLeft <= distanceUpLeft ? left : (distanceUp <= distanceUpLeft ? up : upLeft)
    }

    /// CRC-32 of `data` (zlib's, which is PNG's).
    static func crc(_ data: Data) -> UInt32 {
        data.withUnsafeBytes { buffer in
            UInt32(crc32(0, buffer.bindMemory(to: Bytef.self).baseAddress, uInt(buffer.count)))
        }
    }

    private static func readBigEndian(_ bytes: [UInt8], _ offset: Int) -> UInt32 {
        UInt32(bytes[offset]) << 24 | UInt32(bytes[offset + 1]) << 16 | UInt32(bytes[offset + 2]) << 8 | UInt32(bytes[offset + 3])
    }
}
