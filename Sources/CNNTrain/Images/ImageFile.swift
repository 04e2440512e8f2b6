import CNNSpec
import Foundation

/// Reads a picture file whatever its format (PNG, JPEG, PGM/PPM, BMP), recognised by its first bytes.
public enum ImageFile {
    /// The formats cnnspec decodes.
    public enum Format: String, Sendable { case png, jpeg, netpbm, bmp }

    /// The extensions torchvision's `ImageFolder` lists (`IMG_EXTENSIONS`, compared lower-cased): a
    /// folder dataset takes these files and ignores the others. TIFF and WebP are listed but not decoded
    /// here; such a file is reported as a bad picture.
    public static let folderExtensions: Set<String> = ["jpg", "jpeg", "png", "ppm", "bmp", "pgm", "tif", "tiff", "webp"]

    /// Larger files are refused before they are read (a picture for a CPU CNN is far smaller).
    public static let maximumFileBytes = 256 << 20

    /// The format `bytes` are in, by their signature; nil when none matches.
    public static func format(of bytes: [UInt8]) -> Format? {
        if PNGDecoder.isPNG(bytes) { return .png }
        if JPEGDecoder.isJPEG(bytes) { return .jpeg }
        if PGMDecoder.isNetpbm(bytes) { return .netpbm }
        if BMPDecoder.isBMP(bytes) { return .bmp }
        return nil
    }

    /// Reads and decodes `path`; transparent pixels are composited onto `background` (grey level 0…255).
    public static func read(path: String, background: UInt8 = 255) throws(ImageError) -> RasterImage {
        try decode(readBytes(path: path), path: path, background: background)
    }

    /// The bytes of `path`, refusing empty, unreadable and oversized files with a clear message.
    public static func readBytes(path: String) throws(ImageError) -> [UInt8] {
        if let problem = unreadableFileProblem(path) {
            throw ImageError(path: path, problem: "cannot read the file: \(problem)")
        }
        let attributes = try? FileManager.default.attributesOfItem(atPath: path)
        guard let size = (attributes?[.size] as? NSNumber)?.intValue else {
            throw ImageError(path: path, problem: "cannot read the file (missing or not readable)")
        }
        guard size > 0 else { throw ImageError(path: path, problem: "the file is empty (0 bytes)") }
        guard size <= maximumFileBytes else {
            throw ImageError(path: path, problem: "the file has \(size) bytes; pictures larger than \(maximumFileBytes) bytes are refused")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ImageError(path: path, problem: "cannot read the file (missing or not readable)")
        }
        return [UInt8](data)
    }

    /// Decodes a whole file's bytes by their signature.
    public static func decode(_ bytes: [UInt8], path: String, background: UInt8 = 255) throws(ImageError) -> RasterImage {
        switch format(of: bytes) {
        case .png: return try PNGDecoder.decode(bytes, path: path, background: background)
        case .jpeg: return try JPEGDecoder.decode(bytes, path: path)
        case .netpbm: return try PGMDecoder.decode(bytes, path: path)
        case .bmp: return try BMPDecoder.decode(bytes, path: path, background: background)
        case nil:
            guard !bytes.isEmpty else { throw ImageError(path: path, problem: "the file is empty (0 bytes)") }
            throw ImageError(path: path, problem: "not a PNG, JPEG, PGM/PPM or BMP image (unrecognised first bytes)")
        }
    }
}
