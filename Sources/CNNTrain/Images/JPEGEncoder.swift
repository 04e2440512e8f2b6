import CTurboJPEG
import Foundation

/// Writes 8-bit grey or RGB JPEG files with libjpeg-turbo (4:4:4, so small images keep their detail).
/// Used by the tests to make JPEG datasets; the report embeds PNGs.
public enum JPEGEncoder {
    /// The JPEG bytes of `image` (1 or 3 channels) at `quality` 1…100; nil if libjpeg-turbo fails.
    public static func encode(_ image: RasterImage, quality: Int = 95) -> Data? {
        guard image.channels == 1 || image.channels == 3, let handle = tjInitCompress() else { return nil }
        defer { tjDestroy(handle) }
        var output: UnsafeMutablePointer<UInt8>? = nil
        var size: UInt = 0
        defer { if let output { tjFree(output) } }
        let grey = image.channels == 1
        let status = image.pixels.withUnsafeBufferPointer { pixels in
            tjCompress2(handle, pixels.baseAddress, Int32(image.width), 0, Int32(image.height),
                        grey ? Int32(TJPF_GRAY.rawValue) : Int32(TJPF_RGB.rawValue), &output, &size,
                        grey ? Int32(TJSAMP_GRAY.rawValue) : Int32(TJSAMP_444.rawValue), Int32(max(1, min(100, quality))), 0)
        }
        guard status == 0, let output else { return nil }
        return Data(bytes: output, count: Int(size))
    }
}
