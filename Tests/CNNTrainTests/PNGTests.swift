import Foundation
import Testing
@testable import CNNTrain

struct PNGTests {
    private func gradient(width: Int, height: Int, channels: Int) -> RasterImage {
        var pixels: [UInt8] = []
        for y in 0..<height { for x in 0..<width { for c in 0..<channels { pixels.append(UInt8((x * 37 + y * 11 + c * 91) % 256)) } } }
        return RasterImage(width: width, height: height, channels: channels, pixels: pixels)
    }

    @Test(arguments: [1, 3]) func roundTripsEveryFilter(channels: Int) throws {
        let image = gradient(width: 13, height: 7, channels: channels)
        for filter: UInt8 in 0...4 {
            let bytes = [UInt8](PNGEncoder.encode(image, filter: filter))
            #expect(PNGDecoder.isPNG(bytes))
            #expect(try PNGDecoder.decode(bytes, path: "x.png") == image, "filter \(filter)")
        }
    }

    @Test func headerDescribesTheImage() {
        let bytes = [UInt8](PNGEncoder.encode(gradient(width: 300, height: 2, channels: 3)))
        #expect(Array(bytes[12..<16]) == Array("IHDR".utf8))
        #expect(Array(bytes[16..<24]) == [0, 0, 1, 44, 0, 0, 0, 2])
        #expect(bytes[24] == 8 && bytes[25] == 2)
        #expect(Array(bytes.suffix(8).prefix(4)) == Array("IEND".utf8))
    }

    @Test func upscalingRepeatsPixels() {
        let image = RasterImage(width: 2, height: 1, channels: 1, pixels: [10, 200])
        #expect(image.upscaled(by: 2).pixels == [10, 10, 200, 200, 10, 10, 200, 200])
    }

    @Test func dataURIIsBase64PNG() throws {
        let uri = PNGEncoder.dataURI(gradient(width: 4, height: 4, channels: 1))
        #expect(uri.hasPrefix("data:image/png;base64,"))
        let data = try #require(Data(base64Encoded: String(uri.dropFirst("data:image/png;base64,".count))))
        #expect(PNGDecoder.isPNG([UInt8](data)))
    }

    private func error(_ bytes: [UInt8]) -> String {
        do throws(ImageError) {
            _ = try PNGDecoder.decode(bytes, path: "bad.png")
            return "no error"
        } catch {
            return error.description
        }
    }

    @Test func corruptFilesGiveClearErrors() {
        let good = [UInt8](PNGEncoder.encode(gradient(width: 8, height: 8, channels: 1)))
        #expect(error(Array(good.prefix(40))).contains("truncated PNG"))
        var flipped = good
        flipped[good.count - 20] ^= 0xFF
        #expect(error(flipped).contains("CRC mismatch"))
        #expect(error(Array("GIF89a....".utf8)).contains("not a PNG file"))
        #expect(error(Array(good.prefix(8))).contains("no IHDR"))
        #expect(error(good).hasPrefix("no error"))
        for message in [error(Array(good.prefix(40))), error(flipped)] { #expect(message.hasPrefix("bad.png: error: ")) }
    }

    @Test func unsupportedVariantsAreNamed() {
        let good = [UInt8](PNGEncoder.encode(gradient(width: 4, height: 4, channels: 1)))
        func withHeader(byte: Int, value: UInt8) -> [UInt8] {
            var bytes = good
            bytes[byte] = value
            let crc = PNGDecoder.crc(Data(bytes[12..<29]))
            bytes.replaceSubrange(29..<33, with: [UInt8(crc >> 24), UInt8((crc >> 16) & 0xff), UInt8((crc >> 8) & 0xff), UInt8(crc & 0xff)])
            return bytes
        }
        #expect(error(withHeader(byte: 24, value: 16)).contains("bit depth 16 is not supported"))
        #expect(error(withHeader(byte: 28, value: 1)).contains("interlaced"))
        #expect(error(withHeader(byte: 25, value: 5)).contains("unknown color type"))
    }

    @Test func readsFilesAndRejectsUnknownFormats() throws {
        let folder = TrainingTestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let image = gradient(width: 5, height: 3, channels: 3)
        let png = folder.appendingPathComponent("a.png"), text = folder.appendingPathComponent("a.txt")
        try PNGEncoder.encode(image).write(to: png)
        try Data("hello".utf8).write(to: text)
        #expect(try ImageFile.read(path: png.path) == image)
        #expect(throws: ImageError.self) { try ImageFile.read(path: text.path) }
        #expect(throws: ImageError.self) { try ImageFile.read(path: folder.appendingPathComponent("missing.png").path) }
    }
}

struct PNGForeignFileTests {
    /// A PNG written by another encoder (Chromium's, via Skia): the report screenshot kept in docs/.
    @Test func decodesChromiumScreenshot() throws {
        let path = TrainingTestSupport.repository.appendingPathComponent("docs/report-screenshot.png").path
        let image = try ImageFile.read(path: path)
        #expect(image.width == 1280 && image.height == 2000)
        #expect(image.channels == 3)
        #expect(Array(image.pixels.prefix(3)) == [255, 255, 255], "the page background is white")
    }
}
