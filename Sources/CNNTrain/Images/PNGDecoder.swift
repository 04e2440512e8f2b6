import CPNG
import Foundation

/// Reads PNG files with the system libpng (its simplified `png_image` API, which reports errors in
/// `png_image.message` instead of longjmp, so no C shim is needed): every bit depth (1/2/4/8/16),
/// interlaced images, palettes, grey, and alpha (tRNS included). Alpha is composited onto a background
/// here rather than by libpng so the result is a plain `(1 − a)·background + a·colour` in 8-bit sRGB,
/// independent of libpng's gamma handling.
public enum PNGDecoder {
    static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
    /// Refuse pictures larger than this many pixels (a corrupt header must not allocate gigabytes).
    public static let maximumPixels = 16 << 20

    /// True when `bytes` start with the PNG signature.
    public static func isPNG(_ bytes: [UInt8]) -> Bool { bytes.starts(with: signature) }

    /// Decodes `bytes` (the whole file) into grey or RGB; transparent pixels are composited onto
    /// `background` (0 black … 255 white). `path` names the file in errors.
    public static func decode(_ bytes: [UInt8], path: String, background: UInt8 = 255) throws(ImageError) -> RasterImage {
        func fail(_ problem: String) -> ImageError { ImageError(path: path, problem: problem) }
        guard isPNG(bytes) else { throw fail("not a PNG file (the PNG signature is missing)") }
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        defer { png_image_free(&image) }
        let begun = bytes.withUnsafeBytes { png_image_begin_read_from_memory(&image, $0.baseAddress, $0.count) }
        guard begun != 0 else { throw fail("corrupt PNG: \(message(of: image))") }
        let width = Int(image.width), height = Int(image.height)
        guard width > 0, height > 0, width <= maximumPixels / height else {
            throw fail("PNG size \(width)×\(height) is empty or too large (at most \(maximumPixels) pixels)")
        }
        let colour = image.format & UInt32(PNG_FORMAT_FLAG_COLOR) != 0
        let alpha = image.format & UInt32(PNG_FORMAT_FLAG_ALPHA) != 0
        // Read every format as 8-bit sRGB samples: 16-bit files are scaled (v/257), not treated as linear light.
        image.format = (colour ? UInt32(PNG_FORMAT_FLAG_COLOR) : 0) | (alpha ? UInt32(PNG_FORMAT_FLAG_ALPHA) : 0)
        image.flags |= UInt32(PNG_IMAGE_FLAG_16BIT_sRGB)
        let samples = (colour ? 3 : 1) + (alpha ? 1 : 0)
        var pixels = [UInt8](repeating: 0, count: width * height * samples)
        let finished = pixels.withUnsafeMutableBytes { png_image_finish_read(&image, nil, $0.baseAddress, 0, nil) }
        guard finished != 0 else { throw fail("corrupt or truncated PNG: \(message(of: image))") }
        guard alpha else { return RasterImage(width: width, height: height, channels: samples, pixels: pixels) }
        return composite(pixels, width: width, height: height, colourChannels: samples - 1, background: background)
    }

    /// Blends interleaved colour+alpha samples onto a uniform `background`, dropping alpha.
    static func composite(_ pixels: [UInt8], width: Int, height: Int, colourChannels: Int, background: UInt8) -> RasterImage {
        let stride = colourChannels + 1, count = width * height
        var out = [UInt8](repeating: 0, count: count * colourChannels)
        let back = UInt32(background)
        for index in 0..<count {
            let a = UInt32(pixels[index * stride + colourChannels])
            for channel in 0..<colourChannels {
                let value = UInt32(pixels[index * stride + channel])
                out[index * colourChannels + channel] = UInt8((value * a + back * (255 - a) + 127) / 255)
            }
        }
        return RasterImage(width: width, height: height, channels: colourChannels, pixels: out)
    }

    /// libpng's error text (a fixed-size C string inside `png_image`).
    private static func message(of image: png_image) -> String {
        var copy = image.message
        return withUnsafeBytes(of: &copy) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
    }
}
