import Testing
@testable import CNNTrain

struct PGMTests {
    private func decode(_ text: String, binary: [UInt8] = []) throws(ImageError) -> RasterImage {
        try PGMDecoder.decode(Array(text.utf8) + binary, path: "x.pgm")
    }

    private func message(_ text: String, binary: [UInt8] = []) -> String {
        do throws(ImageError) { _ = try decode(text, binary: binary); return "no error" } catch { return error.description }
    }

    @Test func readsBinaryGreyWithComments() throws {
        let image = try decode("P5\n# made by hand\n3 2\n255\n", binary: [0, 1, 2, 253, 254, 255])
        #expect(image == RasterImage(width: 3, height: 2, channels: 1, pixels: [0, 1, 2, 253, 254, 255]))
    }

    @Test func readsASCIIGreyAndRescalesMaxval() throws {
        let image = try decode("P2 2 2 15\n0 15\n# comment\n5 10\n")
        #expect(image.pixels == [0, 255, 85, 170])
    }

    @Test func readsSixteenBitAndColour() throws {
        #expect(try decode("P5 2 1 65535\n", binary: [0xFF, 0xFF, 0x80, 0x00]).pixels == [255, 128])
        let colour = try decode("P6 1 2 255\n", binary: [1, 2, 3, 4, 5, 6])
        #expect(colour.channels == 3 && colour.pixels == [1, 2, 3, 4, 5, 6])
    }

    @Test func corruptFilesGiveClearErrors() {
        #expect(message("P5 3 2 255\n", binary: [1, 2, 3]).contains("truncated file: 3×2 needs 6 pixel bytes, 3 present"))
        #expect(message("P5 3 two 255\n").contains("expected the height"))
        #expect(message("P5 3 2 0\n").contains("maximum value 0 must be 1…65535"))
        #expect(message("P2 2 1 10\n3 11\n").contains("above the maximum value 10"))
        #expect(message("P2 2 1 10\n3").contains("truncated PGM"))
        #expect(message("P7 1 1 255\n").contains("not a PGM/PPM file"))
        #expect(message("P5 0 1 255\n").contains("empty or too large"))
        #expect(message("P5 3 2 0\n").hasPrefix("x.pgm: error: "))
    }
}
