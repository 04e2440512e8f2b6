import Testing
@testable import CNNTrain

@Test func cifarBatchesLoadAndConcatenate() throws {
    let folder = try DataTestFolder()
    defer { folder.remove() }
    for batch in 1...5 { try folder.write(DataTestFolder.cifarRecords([UInt8(batch), 0]), "data_batch_\(batch).bin") }
    try folder.write(DataTestFolder.cifarRecords([9]), "test_batch.bin")
    let (train, test) = try DatasetLocator.load(.cifar10, root: folder.url.path)
    #expect(train.count == 10 && train.channels == 3 && train.height == 32 && train.width == 32)
    #expect(train.labels == [1, 0, 2, 0, 3, 0, 4, 0, 5, 0])
    #expect(train.images[3072 + 100] == UInt8((1 + 100) % 256))
    #expect(test.labels == [9])
    #expect(test.classNames[9] == "truck")
}

@Test func truncatedCifarBatchIsReported() throws {
    let folder = try DataTestFolder()
    defer { folder.remove() }
    try folder.write(Array(DataTestFolder.cifarRecords([1, 2]).dropLast(5)), "b.bin")
    #expect {
        try CIFAR10File.read(path: folder.path("b.bin"))
    } throws: { error in
        (error as? DataError)?.message.contains("not a whole number of 3073-byte CIFAR-10 records (1 complete, 3068 bytes left over)") == true
    }
}

@Test func cifarLabelOutOfRangeIsReported() throws {
    let folder = try DataTestFolder()
    defer { folder.remove() }
    try folder.write(DataTestFolder.cifarRecords([1, 42]), "b.bin")
    #expect {
        try CIFAR10File.read(path: folder.path("b.bin"))
    } throws: { error in
        (error as? DataError)?.message.contains("record 1 has label 42, outside 0...9") == true
    }
}
