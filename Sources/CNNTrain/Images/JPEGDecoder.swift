import CTurboJPEG
import Foundation

/// Reads JPEG files with the system libjpeg-turbo (TurboJPEG API) into 8-bit grey or RGB. Any libjpeg
/// warning (e.g. "Premature end of JPEG file" of a truncated download) is an error: libjpeg would
/// otherwise fill the missing part with grey and the file would train as a silently damaged sample.
public enum JPEGDecoder {
    /// True when `bytes` start with the JPEG start-of-image marker.
    public static func isJPEG(_ bytes: [UInt8]) -> Bool { bytes.count >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF }

    /// Decodes `bytes` (the whole file); CMYK and other colour spaces are converted to RGB, grey files
    /// stay grey. `path` names the file in errors.
    public static func decode(_ bytes: [UInt8], path: String) throws(ImageError) -> RasterImage {
        func fail(_ problem: String) -> ImageError { ImageError(path: path, problem: problem) }
        guard isJPEG(bytes) else { throw fail("not a JPEG file (the start-of-image marker FF D8 FF is missing)") }
        guard let handle = tjInitDecompress() else { throw fail("libjpeg-turbo could not start a decoder: \(String(cString: tjGetErrorStr2(nil)))") }
        defer { tjDestroy(handle) }
        func libraryMessage() -> String { String(cString: tjGetErrorStr2(handle)) }
        var width: Int32 = 0, height: Int32 = 0, subsampling: Int32 = 0, colourspace: Int32 = 0
        let header = bytes.withUnsafeBufferPointer {
            tjDecompressHeader3(handle, $0.baseAddress, UInt($0.count), &width, &height, &subsampling, &colourspace)
        }
        guard header == 0 else { throw fail("corrupt JPEG header: \(libraryMessage())") }
        guard width > 0, height > 0 else { throw fail("corrupt or truncated JPEG: the header gives an image size of \(width)×\(height)") }
        guard Int(width) <= PNGDecoder.maximumPixels / Int(height) else {
            throw fail("JPEG size \(width)×\(height) is empty or too large (at most \(PNGDecoder.maximumPixels) pixels)")
        }
        let grey = colourspace == Int32(TJCS_GRAY.rawValue)
        let channels = grey ? 1 : 3
        var pixels = [UInt8](repeating: 0, count: Int(width) * Int(height) * channels)
        let status = bytes.withUnsafeBufferPointer { source in
            pixels.withUnsafeMutableBufferPointer { target in
                tjDecompress2(handle, source.baseAddress, UInt(source.count), target.baseAddress, width, 0, height,
                              grey ? Int32(TJPF_GRAY.rawValue) : Int32(TJPF_RGB.rawValue),
                              Int32(TJFLAG_ACCURATEDCT | TJFLAG_STOPONWARNING))
            }
        }
        guard status == 0 else { throw fail("corrupt or truncated JPEG: \(libraryMessage())") }
        return RasterImage(width: Int(width), height: Int(height), channels: channels, pixels: pixels)
    }
}
