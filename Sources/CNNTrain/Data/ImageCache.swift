import Foundation

/// The decoded samples of one folder-dataset split, stored as one file so later epochs and later runs
/// skip decoding.
///
/// Location: `ROOT/.cnnspec-cache/<split>-<C>x<H>x<W>-<key>.bin`, where the key hashes every file's
/// path, size and modification time, the class list and the sample shape: adding, removing or
/// touching an image, or changing the model's input, selects a new file. The file ends with an
/// FNV-1a checksum of everything before it; a file that is short, long or fails the checksum is
/// reported and rebuilt. Written to a temp file and renamed, so an interrupted run leaves no half file.
public enum ImageCache {
    /// Format marker and version (bump the version when the layout changes).
    static let magic = Array("CNNSPECIMGCACHE1".utf8)
    public static let folderName = ".cnnspec-cache"

    /// What identifies a split's decoded contents.
    public struct Key: Sendable {
        public var split: String
        public var channels: Int
        public var height: Int
        public var width: Int
        public var classes: [String]
        /// FNV-1a 64 of the listing (paths, sizes, mtimes), classes and shape.
        public var digest: UInt64

        init(listing: FolderDataset.Listing, channels: Int, height: Int, width: Int, classes: [String]) {
            split = listing.split; self.channels = channels; self.height = height; self.width = width
            self.classes = classes
            var hasher = FNV1a()
            hasher.add("\(channels)x\(height)x\(width)|\(classes.joined(separator: "/"))|")
            for file in listing.files { hasher.add("\(file.path)|\(file.size)|\(file.modified)|\(file.label)\n") }
            digest = hasher.value
        }

        var fileName: String { "\(split)-\(channels)x\(height)x\(width)-\(String(digest, radix: 16)).bin" }
    }

    /// Where the cache of `key` lives under `root`.
    public static func url(root: String, key: Key) -> URL {
        URL(fileURLWithPath: root).appendingPathComponent(folderName).appendingPathComponent(key.fileName)
    }

    /// The cached split, or nil when there is no current cache file (a corrupt one is reported).
    static func read(root: String, key: Key, report: (String) -> Void) -> (dataset: Dataset, bad: [String])? {
        let url = url(root: root, key: key)
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        guard let data = try? Data(contentsOf: url, options: .alwaysMapped), let parsed = parse([UInt8](data), key: key) else {
            report("note: image cache \(url.path) is corrupt or from another version; decoding again\n")
            return nil
        }
        return parsed
    }

    /// Layout: magic, then little-endian u64 count, channels, height, width, digest, bad-text bytes;
    /// the bad-file text (UTF-8, newline-separated); labels (i32 × count); pixels; u64 checksum.
    private static func parse(_ bytes: [UInt8], key: Key) -> (dataset: Dataset, bad: [String])? {
        let fieldsEnd = magic.count + 6 * 8
        guard bytes.count >= fieldsEnd + 8, Array(bytes[0..<magic.count]) == magic else { return nil }
        func u64(_ at: Int) -> UInt64 { bytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: at, as: UInt64.self)) } }
        let fields = (0..<6).map { u64(magic.count + 8 * $0) }
        guard fields[1] == UInt64(key.channels), fields[2] == UInt64(key.height), fields[3] == UInt64(key.width),
              fields[4] == key.digest, fields[0] <= UInt64(bytes.count), fields[5] <= UInt64(bytes.count) else { return nil }
        let count = Int(fields[0]), badBytes = Int(fields[5])
        let sampleSize = key.channels * key.height * key.width
        // count ≤ file size and sampleSize is the model's input: the products below cannot overflow
        let expected = fieldsEnd + badBytes + 4 * count + count * sampleSize + 8
        guard bytes.count == expected else { return nil }
        var hasher = FNV1a()
        bytes.withUnsafeBufferPointer { hasher.add(UnsafeBufferPointer(rebasing: $0[0..<(expected - 8)])) }
        guard hasher.value == u64(expected - 8) else { return nil }
        let badText = String(decoding: bytes[fieldsEnd..<(fieldsEnd + badBytes)], as: UTF8.self)
        let labelsStart = fieldsEnd + badBytes
        var labels = [Int32](repeating: 0, count: count)
        bytes.withUnsafeBytes { raw in
            for index in 0..<count {
                labels[index] = Int32(littleEndian: raw.loadUnaligned(fromByteOffset: labelsStart + 4 * index, as: Int32.self))
            }
        }
        guard labels.allSatisfy({ $0 >= 0 && Int($0) < key.classes.count }) else { return nil }
        let pixelsStart = labelsStart + 4 * count
        let pixels = Array(bytes[pixelsStart..<(pixelsStart + count * sampleSize)])
        guard let dataset = try? Dataset(name: "folder \(key.split)", images: pixels, labels: labels, channels: key.channels,
                                         height: key.height, width: key.width, classNames: key.classes) else { return nil }
        return (dataset, badText.isEmpty ? [] : badText.components(separatedBy: "\n"))
    }

    /// Writes `dataset` (and the bad-file lines) as the cache of `key`; returns the file's URL.
    static func write(_ dataset: Dataset, bad: [String], root: String, key: Key) throws(FileWriteError) -> URL {
        let url = url(root: root, key: key)
        let badText = Array(bad.joined(separator: "\n").utf8)
        var bytes = magic
        bytes.reserveCapacity(magic.count + 56 + badText.count + 4 * dataset.count + dataset.images.count)
        for field in [dataset.count, key.channels, key.height, key.width] { append(UInt64(field), to: &bytes) }
        append(key.digest, to: &bytes)
        append(UInt64(badText.count), to: &bytes)
        bytes += badText
        for label in dataset.labels { withUnsafeBytes(of: label.littleEndian) { bytes += $0 } }
        bytes += dataset.images
        var hasher = FNV1a()
        bytes.withUnsafeBufferPointer { hasher.add($0) }
        append(hasher.value, to: &bytes)
        try AtomicFile.write(Data(bytes), to: url)
        return url
    }

    private static func append(_ value: UInt64, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { bytes += $0 }
    }
}

/// FNV-1a 64-bit: a fast checksum for cache keys and contents (not cryptographic; detects damage).
struct FNV1a {
    private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325
    private static let prime: UInt64 = 0x0000_0100_0000_01b3

    mutating func add(_ text: String) {
        for byte in text.utf8 { value = (value ^ UInt64(byte)) &* Self.prime }
    }

    mutating func add(_ bytes: UnsafeBufferPointer<UInt8>) {
        var state = value
        for byte in bytes { state = (state ^ UInt64(byte)) &* Self.prime }
        value = state
    }
}
