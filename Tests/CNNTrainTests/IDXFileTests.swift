import Foundation
import Testing
@testable import CNNTrain
import CNNSpec

@Test(arguments: ["raw", "gz"])
func idxFilesLoadRawAndGzipped(_ form: String) throws {
    let folder = try DataTestFolder()
    defer { folder.remove() }
    let suffix = form == "gz" ? ".gz" : ""
    try folder.write(DataTestFolder.idxImages(count: 5, rows: 4, columns: 3), "train-images-idx3-ubyte" + suffix)
    try folder.write(DataTestFolder.idxLabels([0, 9, 3, 3, 1]), "train-labels-idx1-ubyte" + suffix)
    try folder.write(DataTestFolder.idxImages(count: 2, rows: 4, columns: 3), "t10k-images-idx3-ubyte" + suffix)
    try folder.write(DataTestFolder.idxLabels([7, 2]), "t10k-labels-idx1-ubyte" + suffix)
    let (train, test) = try DatasetLocator.load(.fashionMNIST, root: folder.url.path)
    #expect(train.count == 5 && train.channels == 1 && train.height == 4 && train.width == 3)
    #expect(train.labels == [0, 9, 3, 3, 1])
    #expect(train.images[12 * 2 + 5] == UInt8((2 * 7 + 5) % 256))
    #expect(test.labels == [7, 2])
    #expect(train.classNames[9] == "Ankle boot")
}

/// The error message of reading `bytes` as an image file.
private func imageError(_ bytes: [UInt8]) throws -> String {
    let folder = try DataTestFolder()
    defer { folder.remove() }
    try folder.write(bytes, "images")
    do {
        _ = try IDXFile.readImages(path: folder.path("images"))
        return ""
    } catch {
        return error.message.replacingOccurrences(of: folder.path("images"), with: "FILE")
    }
}

@Test func truncatedImagesAreReported() throws {
    let bytes = DataTestFolder.idxImages(count: 3, rows: 2, columns: 2)
    #expect(try imageError(Array(bytes.dropLast(1)))
        == "FILE: the header announces 3 images of 2×2 (12 bytes) but the file is truncated: 11 bytes of data")
    #expect(try imageError(Array(bytes.prefix(10))).hasPrefix("FILE: only 10 bytes, too short for the 16-byte header"))
}

@Test func wrongMagicIsReported() throws {
    let labels = DataTestFolder.idxLabels([1, 2, 3]) + [0, 0, 0, 0, 0, 0, 0, 0]
    #expect(try imageError(labels) == "FILE: magic number 0x00000801, expected 0x00000803 for an IDX image file")
}

@Test func outOfRangeLabelIsReported() throws {
    let folder = try DataTestFolder()
    defer { folder.remove() }
    try folder.write(DataTestFolder.idxLabels([1, 10, 3]), "labels")
    #expect {
        try IDXFile.readLabels(path: folder.path("labels"), classCount: 10)
    } throws: { error in
        (error as? DataError)?.message.hasSuffix("labels: label 10 at index 1 is outside 0...9") == true
    }
}

@Test func corruptGzipIsReported() throws {
    let folder = try DataTestFolder()
    defer { folder.remove() }
    try folder.write(DataTestFolder.idxImages(count: 50, rows: 8, columns: 8), "images.gz")
    let whole = try [UInt8](Data(contentsOf: folder.url.appendingPathComponent("images.gz")))
    try folder.write(Array(whole.prefix(whole.count / 2)), "cut")
    #expect(throws: DataError.self) { try IDXFile.readImages(path: folder.path("cut")) }
}

@Test func imageAndLabelCountsMustAgree() throws {
    let folder = try DataTestFolder()
    defer { folder.remove() }
    try folder.write(DataTestFolder.idxImages(count: 3, rows: 2, columns: 2), "train-images-idx3-ubyte")
    try folder.write(DataTestFolder.idxLabels([1, 2]), "train-labels-idx1-ubyte")
    try folder.write(DataTestFolder.idxImages(count: 1, rows: 2, columns: 2), "t10k-images-idx3-ubyte")
    try folder.write(DataTestFolder.idxLabels([1]), "t10k-labels-idx1-ubyte")
    #expect {
        try DatasetLocator.load(.mnist, root: folder.url.path)
    } throws: { error in
        (error as? DataError)?.message.contains("2 labels but") == true
    }
}

@Test func missingDatasetNamesFilesAndCommand() throws {
    let folder = try DataTestFolder()
    defer { folder.remove() }
    do {
        _ = try DatasetLocator.load(.mnist, root: folder.url.path)
        Issue.record("expected an error")
    } catch {
        #expect(error.message.contains("the mnist dataset is missing: looked for \(folder.url.path)/{train-images-idx3-ubyte,"))
        #expect(error.hint == "run 'scripts/fetch-data mnist --root \(folder.url.path)'")
    }
    #expect(DatasetLocator.searchFolders(for: .fashionMNIST, root: nil)
        == ["data/fashion-mnist", "/usr/share/datasets/fashion-mnist"])
}
