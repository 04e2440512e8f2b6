import CNNSpec
import Foundation
import Testing
@testable import CNNTrain

/// The error message of reading `bytes` (written as `name`) as an IDX image file.
private func imageReadError(_ bytes: [UInt8], name: String = "images") throws -> String {
    let folder = try DataTestFolder()
    defer { folder.remove() }
    try folder.write(bytes, name)
    do {
        _ = try IDXFile.readImages(path: folder.path(name))
        return ""
    } catch {
        return error.message.replacingOccurrences(of: folder.path(name), with: "FILE")
    }
}

@Test func idxHeaderWithHugeDimensionsIsRefusedBeforeAllocating() throws {
    let header = DataTestFolder.bigEndian(0x0803) + [UInt8](repeating: 0xff, count: 12)
    #expect(try imageReadError(header).contains("more than the 10000000 an IDX file may hold"))
    let wide = DataTestFolder.bigEndian(0x0803) + DataTestFolder.bigEndian(1) + DataTestFolder.bigEndian(0xffff_ffff)
        + DataTestFolder.bigEndian(0xffff_ffff)
    #expect(try imageReadError(wide).contains("each side may be at most 4096"))
    let large = DataTestFolder.bigEndian(0x0803) + DataTestFolder.bigEndian(9_000_000) + DataTestFolder.bigEndian(4096)
        + DataTestFolder.bigEndian(4096)
    #expect(try imageReadError(large).contains("more than the 1073741824 bytes"))
}

@Test func gzipInflatingBeyondTheDeclaredSizeIsRefusedWhileInflating() throws {
    // Declares 2 images of 4×4 (32 bytes) but carries 4 MiB of zeros: a small gzip bomb.
    let bytes = DataTestFolder.bigEndian(0x0803) + DataTestFolder.bigEndian(2) + DataTestFolder.bigEndian(4)
        + DataTestFolder.bigEndian(4) + [UInt8](repeating: 0, count: 4 << 20)
    #expect(try imageReadError(bytes, name: "images.gz") == "FILE: the file holds more data than its header declares (48 bytes)")
    #expect(try imageReadError(Array(bytes.prefix(48)), name: "images.gz") == "")
}

@Test func labelFileWithHugeCountIsRefused() throws {
    let folder = try DataTestFolder()
    defer { folder.remove() }
    try folder.write(DataTestFolder.bigEndian(0x0801) + DataTestFolder.bigEndian(0xffff_ffff), "labels")
    #expect(throws: DataError.self) { try IDXFile.readLabels(path: folder.path("labels"), classCount: 10) }
}

@Test func plansBeyondTheMachinesMemoryAreRefusedWithTheEstimate() throws {
    let graph = modelAGraph()
    let estimate = MemoryEstimate(graph: graph, batchCapacity: 1_000)
    #expect(estimate.totalBytes > estimate.parameterBytes + estimate.activationBytes)
    // Model A: ~175 KiB of activations per image, times three copies.
    #expect(estimate.bytesPerImage > 3 * 170 * 1024 && estimate.bytesPerImage < 4 * 1024 * 1024)
    do {
        try estimate.check(available: 512 * 1024 * 1024, model: "modelA.yaml")
        Issue.record("a 1000-image batch fitted in 512 MiB")
    } catch {
        #expect(error.message.hasPrefix("modelA.yaml: training this plan needs about"))
        #expect(error.message.contains("but only 512.0 MiB is available"))
        #expect(error.hint.hasPrefix("lower train.batch_size to at most "))
    }
    try MemoryEstimate(graph: graph, batchCapacity: 100).check(available: 4 * 1024 * 1024 * 1024, model: "m")
    #expect(MemoryEstimate.availableBytes().map { $0 > 0 } == true)
}

@Test func checkpointShapesWithHugeDimensionsDoNotOverflow() {
    #expect(CheckedArithmetic.elementCount([Int.max, 2]) == nil)
    #expect(CheckedArithmetic.elementCount([4_294_967_296, 4_294_967_296]) == nil)
    #expect(CheckedArithmetic.elementCount([-1, 3]) == nil)
    #expect(CheckedArithmetic.elementCount([16, 1, 5, 5]) == 400)
    #expect(CheckedArithmetic.elementCount([]) == 1)
}
