import Foundation

/// Reads a picture file whatever its format (PNG, PGM/PPM), by its first bytes.
public enum ImageFile {
    public static func read(path: String) throws(ImageError) -> RasterImage {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ImageError(path: path, problem: "cannot read the file (missing or not readable)")
        }
        let bytes = [UInt8](data)
        if PNGDecoder.isPNG(bytes) { return try PNGDecoder.decode(bytes, path: path) }
        if PGMDecoder.isNetpbm(bytes) { return try PGMDecoder.decode(bytes, path: path) }
        throw ImageError(path: path, problem: "not a PNG or PGM/PPM image (unrecognised first bytes)")
    }
}
