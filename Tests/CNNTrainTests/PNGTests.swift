import Foundation
import Testing
@testable import CNNTrain

/// Builds PNG files the encoder does not write (bit depths, palettes, interlacing, alpha) so libpng's
/// decoding of them is tested against known pixels.
enum PNGTestFiles {
    /// `samples` is one value per sample (already `depth`-bit), row-major, `samplesPerPixel` per pixel.
    static func png(width: Int, height: Int, depth: Int, colorType: UInt8, samples: [Int], samplesPerPixel: Int,
                    palette: [UInt8] = [], transparency: [UInt8] = [], interlaced: Bool = false) -> [UInt8] {
        var out = Data(PNGDecoder.signature)
        var header = Data()
        header.appendBigEndian(UInt32(width)); header.appendBigEndian(UInt32(height))
        header.append(contentsOf: [UInt8(depth), colorType, 0, 0, interlaced ? 1 : 0])
        PNGEncoder.appendChunk("IHDR", header, to: &out)
        if !palette.isEmpty { PNGEncoder.appendChunk("PLTE", Data(palette), to: &out) }
        if !transparency.isEmpty { PNGEncoder.appendChunk("tRNS", Data(transparency), to: &out) }
        // Adam7 passes (x0, y0, dx, dy), or the whole image once.
        let passes = interlaced ? [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
                                : [(0, 0, 1, 1)]
        var raw: [UInt8] = []
        for (x0, y0, dx, dy) in passes {
            let xs = Array(stride(from: x0, to: width, by: dx)), ys = Array(stride(from: y0, to: height, by: dy))
            guard !xs.isEmpty, !ys.isEmpty else { continue }
            for y in ys {
                raw.append(0)
                var bits: [Int] = []
                for x in xs { for s in 0..<samplesPerPixel { bits.append(samples[(y * width + x) * samplesPerPixel + s]) } }
                raw += pack(bits, depth: depth)
            }
        }
        PNGEncoder.appendChunk("IDAT", PNGEncoder.deflate(raw), to: &out)
        PNGEncoder.appendChunk("IEND", Data(), to: &out)
        return [UInt8](out)
    }

    /// Packs one row's samples big-endian at `depth` bits (1, 2, 4, 8, 16).
    static func pack(_ values: [Int], depth: Int) -> [UInt8] {
        if depth == 16 { return values.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] } }
        if depth == 8 { return values.map { UInt8($0) } }
        var bytes: [UInt8] = []
        let perByte = 8 / depth
        for start in stride(from: 0, to: values.count, by: perByte) {
            var byte = 0
            for index in 0..<perByte {
                let value = start + index < values.count ? values[start + index] : 0
                byte |= value << (8 - depth * (index + 1))
            }
            bytes.append(UInt8(byte))
        }
        return bytes
    }
}

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

    @Test(arguments: [1, 2, 4]) func lowBitDepthGrey(depth: Int) throws {
        let levels = (1 << depth) - 1
        let samples = (0..<(11 * 5)).map { ($0 * 7) % (levels + 1) }
        let bytes = PNGTestFiles.png(width: 11, height: 5, depth: depth, colorType: 0, samples: samples, samplesPerPixel: 1)
        let image = try PNGDecoder.decode(bytes, path: "g.png")
        #expect(image.channels == 1 && image.width == 11 && image.height == 5)
        #expect(image.pixels == samples.map { UInt8($0 * 255 / levels) })
    }

    @Test(arguments: [1, 2, 4, 8]) func palettes(depth: Int) throws {
        let entries = 1 << depth
        var palette: [UInt8] = []
        for entry in 0..<entries {
            palette += [UInt8(entry * 3 % 256), UInt8(255 - entry % 256), UInt8(entry * 17 % 256)]
        }
        let samples = (0..<(9 * 4)).map { ($0 * 5) % entries }
        let bytes = PNGTestFiles.png(width: 9, height: 4, depth: depth, colorType: 3, samples: samples, samplesPerPixel: 1,
                                     palette: palette)
        let image = try PNGDecoder.decode(bytes, path: "p.png")
        #expect(image.channels == 3)
        var expected: [UInt8] = []
        for index in samples { expected += palette[(index * 3)..<(index * 3 + 3)] }
        #expect(image.pixels == expected)
    }

    @Test func sixteenBitIsScaledNotGammaConverted() throws {
        let samples = (0..<(6 * 3 * 3)).map { ($0 * 4099) % 65536 }
        let bytes = PNGTestFiles.png(width: 6, height: 3, depth: 16, colorType: 2, samples: samples, samplesPerPixel: 3)
        let image = try PNGDecoder.decode(bytes, path: "16.png")
        #expect(image.channels == 3)
        let expected = samples.map { Double($0) / 257 }
        #expect(zip(image.pixels, expected).allSatisfy { abs(Double($0) - $1) <= 1 })
        let grey = (0..<(5 * 5)).map { ($0 * 2731) % 65536 }
        let greyImage = try PNGDecoder.decode(
            PNGTestFiles.png(width: 5, height: 5, depth: 16, colorType: 0, samples: grey, samplesPerPixel: 1), path: "g16.png")
        #expect(zip(greyImage.pixels, grey).allSatisfy { abs(Double($0) - Double($1) / 257) <= 1 })
    }

    @Test func interlacedEqualsPlain() throws {
        let samples = (0..<(19 * 13 * 3)).map { ($0 * 31 + 7) % 256 }
        for (colorType, perPixel) in [(UInt8(0), 1), (UInt8(2), 3)] {
            let count = 19 * 13 * perPixel
            let plain = PNGTestFiles.png(width: 19, height: 13, depth: 8, colorType: colorType, samples: Array(samples.prefix(count)), samplesPerPixel: perPixel)
            let adam7 = PNGTestFiles.png(width: 19, height: 13, depth: 8, colorType: colorType, samples: Array(samples.prefix(count)),
                                         samplesPerPixel: perPixel, interlaced: true)
            #expect(adam7 != plain)
            #expect(try PNGDecoder.decode(adam7, path: "i.png") == PNGDecoder.decode(plain, path: "p.png"))
            #expect(try PNGDecoder.decode(plain, path: "p.png").pixels == samples.prefix(count).map(UInt8.init))
        }
    }

    @Test func alphaIsCompositedOntoTheBackground() throws {
        // grey+alpha: value 0 (black ink) at alpha 255, 0 and 128
        let bytes = PNGTestFiles.png(width: 3, height: 1, depth: 8, colorType: 4, samples: [0, 255, 0, 0, 0, 128], samplesPerPixel: 2)
        #expect(try PNGDecoder.decode(bytes, path: "a.png", background: 255).pixels == [0, 255, 127])
        #expect(try PNGDecoder.decode(bytes, path: "a.png", background: 0).pixels == [0, 0, 0])
        // palette with tRNS: entry 1 fully transparent
        let palette: [UInt8] = [10, 20, 30, 0, 0, 0]
        let paletted = PNGTestFiles.png(width: 2, height: 1, depth: 8, colorType: 3, samples: [0, 1], samplesPerPixel: 1,
                                        palette: palette, transparency: [255, 0])
        #expect(try PNGDecoder.decode(paletted, path: "t.png", background: 255).pixels == [10, 20, 30, 255, 255, 255])
    }

    private func error(_ bytes: [UInt8]) -> String {
        do throws(ImageError) {
            _ = try ImageFile.decode(bytes, path: "bad.png")
            return "no error"
        } catch {
            return error.description
        }
    }

    @Test func corruptFilesGiveClearErrors() {
        let good = [UInt8](PNGEncoder.encode(gradient(width: 8, height: 8, channels: 1)))
        var flipped = good
        flipped[good.count - 20] ^= 0xFF
        #expect(error(good).hasPrefix("no error"))
        for broken in [Array(good.prefix(40)), flipped, Array(good.prefix(8)), Array(good.prefix(60))] {
            let message = error(broken)
            #expect(message.hasPrefix("bad.png: error: corrupt"), "\(message)")
        }
        #expect(error(Array("GIF89a....".utf8)).contains("not a PNG, JPEG, PGM/PPM or BMP image"))
        #expect(error([]).contains("empty"))
    }

    @Test func hugeDimensionsAreRefusedBeforeAllocating() {
        var header = Data(PNGDecoder.signature)
        var ihdr = Data()
        ihdr.appendBigEndian(1 << 20); ihdr.appendBigEndian(1 << 20)
        ihdr.append(contentsOf: [8, 0, 0, 0, 0])
        PNGEncoder.appendChunk("IHDR", ihdr, to: &header)
        PNGEncoder.appendChunk("IEND", Data(), to: &header)
        let message = error([UInt8](header))
        #expect(message.contains("too large") || message.contains("corrupt"), "\(message)")
    }

    @Test func readsFilesAndRejectsUnknownFormats() throws {
        let folder = TrainingTestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let image = gradient(width: 5, height: 3, channels: 3)
        let png = folder.appendingPathComponent("a.png"), text = folder.appendingPathComponent("a.txt")
        let empty = folder.appendingPathComponent("empty.png")
        try PNGEncoder.encode(image).write(to: png)
        try Data("hello".utf8).write(to: text)
        try Data().write(to: empty)
        #expect(try ImageFile.read(path: png.path) == image)
        #expect(throws: ImageError.self) { try ImageFile.read(path: text.path) }
        #expect(throws: ImageError.self) { try ImageFile.read(path: folder.appendingPathComponent("missing.png").path) }
        do throws(ImageError) { _ = try ImageFile.read(path: empty.path); Issue.record("expected an error") } catch {
            #expect(error.description == "\(empty.path): error: the file is empty (0 bytes)")
        }
    }
}

struct JPEGTests {
    @Test(arguments: [1, 3]) func roundTripIsClose(channels: Int) throws {
        var pixels: [UInt8] = []
        for y in 0..<16 { for x in 0..<24 { for c in 0..<channels { pixels.append(UInt8(40 + x * 4 + y * 3 + c * 20)) } } }
        let image = RasterImage(width: 24, height: 16, channels: channels, pixels: pixels)
        let bytes = [UInt8](try #require(JPEGEncoder.encode(image, quality: 100)))
        let decoded = try ImageFile.decode(bytes, path: "x.jpg")
        #expect(decoded.width == 24 && decoded.height == 16 && decoded.channels == channels)
        #expect(zip(decoded.pixels, pixels).allSatisfy { abs(Int($0) - Int($1)) <= 3 })
    }

    @Test func truncatedJPEGIsAnError() throws {
        let image = RasterImage(width: 32, height: 32, channels: 3, pixels: (0..<(32 * 32 * 3)).map { UInt8($0 % 251) })
        let bytes = [UInt8](try #require(JPEGEncoder.encode(image)))
        for cut in [bytes.count / 2, 20] {
            do throws(ImageError) {
                _ = try ImageFile.decode(Array(bytes.prefix(cut)), path: "cut.jpg")
                Issue.record("no error for a JPEG cut at \(cut) bytes")
            } catch {
                #expect(error.description.hasPrefix("cut.jpg: error: corrupt"), "\(error)")
            }
        }
    }
}

struct BMPTests {
    /// A BITMAPINFOHEADER file: `bits` per pixel, `palette` as BGRX entries, rows as stored (padded by the caller).
    private func bmp(width: Int, height: Int, bits: Int, palette: [UInt8] = [], rows: [[UInt8]]) -> [UInt8] {
        func le32(_ v: Int) -> [UInt8] { [UInt8(v & 0xFF), UInt8((v >> 8) & 0xFF), UInt8((v >> 16) & 0xFF), UInt8((v >> 24) & 0xFF)] }
        let offset = 14 + 40 + palette.count
        let pixels = rows.flatMap { $0 }
        var out: [UInt8] = [0x42, 0x4D] + le32(offset + pixels.count) + [0, 0, 0, 0] + le32(offset)
        out += le32(40) + le32(width) + le32(height) + [1, 0, UInt8(bits), 0] + le32(0) + le32(pixels.count)
        out += le32(2835) + le32(2835) + le32(palette.count / 4) + le32(0)
        return out + palette + pixels
    }

    @Test func readsTwentyFourBitBottomUp() throws {
        // 2×2: bottom row stored first; BGR; rows padded to 4 bytes.
        let bytes = bmp(width: 2, height: 2, bits: 24, rows: [[0, 0, 255, 0, 255, 0, 0, 0], [255, 0, 0, 255, 255, 255, 0, 0]])
        let image = try ImageFile.decode(bytes, path: "x.bmp")
        #expect(image.channels == 3)
        #expect(image.pixels == [0, 0, 255, 255, 255, 255, 255, 0, 0, 0, 255, 0])
    }

    @Test func greyPaletteGivesGreyAndTruncationIsAnError() throws {
        let palette: [UInt8] = [0, 0, 0, 0, 128, 128, 128, 0, 255, 255, 255, 0]
        let bytes = bmp(width: 3, height: 1, bits: 8, palette: palette, rows: [[2, 1, 0, 0]])
        let image = try ImageFile.decode(bytes, path: "g.bmp")
        #expect(image.channels == 1 && image.pixels == [255, 128, 0])
        do throws(ImageError) { _ = try ImageFile.decode(Array(bytes.dropLast(2)), path: "cut.bmp"); Issue.record("expected an error") } catch {
            #expect(error.description.hasPrefix("cut.bmp: error: truncated BMP"))
        }
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
