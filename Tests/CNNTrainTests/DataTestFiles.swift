import CZlib
import Foundation

/// Small IDX and CIFAR-10 files written by the tests, in a fresh temporary folder.
struct DataTestFolder {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("cnnspec-data-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func remove() { try? FileManager.default.removeItem(at: url) }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    /// Writes bytes raw, or gzip-compressed through zlib when `name` ends in `.gz`.
    func write(_ bytes: [UInt8], _ name: String) throws {
        if name.hasSuffix(".gz") {
            let file = try require_gz(gzopen(path(name), "wb"))
            bytes.withUnsafeBytes { _ = gzwrite(file, $0.baseAddress, UInt32($0.count)) }
            gzclose(file)
        } else {
            try Data(bytes).write(to: url.appendingPathComponent(name))
        }
    }

    /// An IDX image file of `count` `rows`×`columns` images whose pixel i of image n is (n × 7 + i) mod 256.
    static func idxImages(count: Int, rows: Int, columns: Int, magic: UInt32 = 0x0803) -> [UInt8] {
        var bytes = bigEndian(magic) + bigEndian(UInt32(count)) + bigEndian(UInt32(rows)) + bigEndian(UInt32(columns))
        for n in 0..<count { for i in 0..<(rows * columns) { bytes.append(UInt8((n * 7 + i) % 256)) } }
        return bytes
    }

    static func idxLabels(_ labels: [UInt8], magic: UInt32 = 0x0801) -> [UInt8] {
        bigEndian(magic) + bigEndian(UInt32(labels.count)) + labels
    }

    /// A tiny MNIST in `root`: 64 training and 16 test 8×8 IDX images, labels 0…9 in turn.
    static func writeTinyMNIST(into root: URL) throws {
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        let labels = (0..<64).map { UInt8($0 % 10) }
        try Data(idxImages(count: 64, rows: 8, columns: 8)).write(to: root.appendingPathComponent("train-images-idx3-ubyte"))
        try Data(idxLabels(labels)).write(to: root.appendingPathComponent("train-labels-idx1-ubyte"))
        try Data(idxImages(count: 16, rows: 8, columns: 8)).write(to: root.appendingPathComponent("t10k-images-idx3-ubyte"))
        try Data(idxLabels(Array(labels.prefix(16)))).write(to: root.appendingPathComponent("t10k-labels-idx1-ubyte"))
    }

    /// CIFAR-10 records with the given labels; pixel i of record n is (n + i) mod 256.
    static func cifarRecords(_ labels: [UInt8]) -> [UInt8] {
        var bytes: [UInt8] = []
        for (n, label) in labels.enumerated() {
            bytes.append(label)
            for i in 0..<3072 { bytes.append(UInt8((n + i) % 256)) }
        }
        return bytes
    }

    static func bigEndian(_ value: UInt32) -> [UInt8] { (0..<4).map { UInt8((value >> (24 - 8 * $0)) & 0xff) } }
}

struct GzipOpenFailed: Error {}

private func require_gz(_ file: gzFile?) throws -> gzFile {
    guard let file else { throw GzipOpenFailed() }
    return file
}
