import CZlib
import Foundation

/// Writes 8-bit grey or RGB PNG files (zlib-compressed, filter 0, non-interlaced).
///
/// Hand-written on zlib (CRC and deflate come from zlib): a PNG writer is ~40 lines once deflate and
/// CRC-32 exist, and its `filter` parameter lets the tests produce every row filter for libpng to read.
public enum PNGEncoder {
    /// The PNG file bytes of `image` (1 or 3 channels).
    public static func encode(_ image: RasterImage) -> Data { encode(image, filter: 0) }

    /// `filter` (0 None, 1 Sub, 2 Up, 3 Average, 4 Paeth) is applied to every row; the tests use it to
    /// exercise the decoder's filters.
    static func encode(_ image: RasterImage, filter: UInt8) -> Data {
        precondition(image.channels == 1 || image.channels == 3)  // invariant: report code builds grey/RGB only
        var out = Data(PNGDecoder.signature)
        var header = Data()
        header.appendBigEndian(UInt32(image.width))
        header.appendBigEndian(UInt32(image.height))
        header.append(contentsOf: [8, image.channels == 1 ? 0 : 2, 0, 0, 0])
        appendChunk("IHDR", header, to: &out)
        let rowBytes = image.width * image.channels
        var raw = [UInt8](repeating: 0, count: image.height * (rowBytes + 1))
        let bpp = image.channels
        for y in 0..<image.height {
            raw[y * (rowBytes + 1)] = filter
            for x in 0..<rowBytes {
                let value = Int(image.pixels[y * rowBytes + x])
                let left = x >= bpp ? Int(image.pixels[y * rowBytes + x - bpp]) : 0
                let up = y > 0 ? Int(image.pixels[(y - 1) * rowBytes + x]) : 0
                let upLeft = (y > 0 && x >= bpp) ? Int(image.pixels[(y - 1) * rowBytes + x - bpp]) : 0
                let predictor: Int
                switch filter {
                case 1: predictor = left
                case 2: predictor = up
                case 3: predictor = (left + up) / 2
                case 4: predictor = paeth(left, up, upLeft)
                default: predictor = 0
                }
                raw[y * (rowBytes + 1) + 1 + x] = UInt8(truncatingIfNeeded: value - predictor)
            }
        }
        appendChunk("IDAT", deflate(raw), to: &out)
        appendChunk("IEND", Data(), to: &out)
        return out
    }

    /// zlib-compressed `raw` (what an IDAT chunk holds).
    static func deflate(_ raw: [UInt8]) -> Data {
        var compressedCount = compressBound(uLong(raw.count))
        var compressed = [UInt8](repeating: 0, count: Int(compressedCount))
        let status = compress2(&compressed, &compressedCount, raw, uLong(raw.count), 9)
        precondition(status == Z_OK)  // invariant: the output buffer has compressBound bytes
        return Data(compressed.prefix(Int(compressedCount)))
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

    /// `data:image/png;base64,…` for embedding in HTML.
    public static func dataURI(_ image: RasterImage) -> String {
        "data:image/png;base64," + encode(image).base64EncodedString()
    }

    static func appendChunk(_ type: String, _ payload: Data, to out: inout Data) {
        out.appendBigEndian(UInt32(payload.count))
        var typed = Data(type.utf8)
        typed.append(payload)
        out.append(typed)
        out.appendBigEndian(crc(typed))
    }
}

extension Data {
    mutating func appendBigEndian(_ value: UInt32) {
        append(contentsOf: [UInt8(value >> 24), UInt8((value >> 16) & 0xff), UInt8((value >> 8) & 0xff), UInt8(value & 0xff)])
    }
}
