import Foundation
import Testing
import CNNTrain

private func temporaryURL(_ name: String) -> URL {
    FileManager.default.temporaryDirectory.appendingPathComponent("cnnspec-st-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        .appendingPathComponent(name)
}

private let sample: [String: SafetensorsFile.Tensor] = [
    "cnn1.weight": .init(shape: [2, 1, 2, 2], data: (0..<8).map { Float($0) * 0.5 - 1 }),
    "cnn1.bias": .init(shape: [2], data: [0.25, -3e-8]),
    "fc1.weight": .init(shape: [3, 2], data: [1, 2, 3, 4, 5, .pi]),
]

@Test func roundTripKeepsTensorsAndMetadata() throws {
    let url = temporaryURL("last.safetensors")
    defer { try? FileManager.default.removeItem(at: url.deletingLastPathComponent()) }
    let metadata = ["config_hash": "0123abcd", "seed": "1234", "cnnspec_version": "0.1.0", "quote": "a\"b"]
    try SafetensorsFile.write(tensors: sample, metadata: metadata, to: url)
    let contents = try SafetensorsFile.read(from: url)
    #expect(contents.tensors == sample)
    #expect(contents.metadata == metadata)
    let leftovers = try FileManager.default.contentsOfDirectory(atPath: url.deletingLastPathComponent().path)
    #expect(leftovers == ["last.safetensors"])
}

@Test func layoutFollowsTheSafetensorsSpec() throws {
    let data = try SafetensorsFile.encode(tensors: sample, metadata: [:])
    let headerLength = data.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
    #expect(headerLength % 8 == 0)
    #expect(data.count == 8 + headerLength + 4 * (8 + 2 + 6))
    let header = try #require(String(data: data[8..<(8 + headerLength)], encoding: .utf8))
    #expect(header.contains("\"cnn1.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}"))
    #expect(header.contains("\"fc1.weight\":{\"dtype\":\"F32\",\"shape\":[3,2],\"data_offsets\":[40,64]}"))
}

@Test func truncatedFileIsRejectedNamingTheFile() throws {
    let data = try SafetensorsFile.encode(tensors: sample, metadata: ["seed": "1"])
    #expect {
        try SafetensorsFile.decode(data.dropLast(4), path: "runs/x/best.safetensors")
    } throws: { error in
        let text = "\(error)"
        return text.hasPrefix("runs/x/best.safetensors: error:") && text.contains("data section")
    }
    #expect(throws: CheckpointError.self) { try SafetensorsFile.decode(data.prefix(5), path: "p") }
    #expect(throws: CheckpointError.self) { try SafetensorsFile.decode(data.prefix(40), path: "p") }
}

@Test func corruptHeaderIsRejected() throws {
    var data = try SafetensorsFile.encode(tensors: sample, metadata: [:])
    data[8] = UInt8(ascii: "#")
    #expect {
        try SafetensorsFile.decode(data, path: "ck.safetensors")
    } throws: { error in "\(error)".contains("not valid JSON") }
    var wrongType = try SafetensorsFile.encode(tensors: ["a": .init(shape: [1], data: [1])], metadata: [:])
    let text = String(decoding: wrongType, as: UTF8.self)
    wrongType = Data(text.replacingOccurrences(of: "\"F32\"", with: "\"C64\"").utf8)
    #expect {
        try SafetensorsFile.decode(wrongType, path: "ck.safetensors")
    } throws: { error in "\(error)".contains("dtype C64") }
}

@Test func mismatchedShapeIsRejectedOnWrite() {
    #expect(throws: CheckpointError.self) {
        try SafetensorsFile.encode(tensors: ["w": .init(shape: [2, 2], data: [1, 2, 3])], metadata: [:])
    }
}
