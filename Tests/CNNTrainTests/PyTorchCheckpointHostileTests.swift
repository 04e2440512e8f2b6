import CNNSpec
import Foundation
import PyTorchFixtures
import Testing
@testable import CNNTrain

/// Hostile `torch.save` files — handcrafted pickles, mutated pickles and mutated zips — are refused with
/// a `CheckpointError` naming the file: never a trap, an abort, a hang or an allocation the file merely claims.
@Suite struct PyTorchCheckpointHostileTests {
    /// A minimal zip writer (stored entries, CRC-32), to wrap handcrafted pickles as torch.save does.
    static func zip(_ entries: [(String, [UInt8])]) -> Data {
        func crc32(_ bytes: [UInt8]) -> UInt32 {
            var crc: UInt32 = 0xFFFF_FFFF
            for byte in bytes {
                crc ^= UInt32(byte)
                for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
            }
            return ~crc
        }
        func le16(_ value: Int) -> [UInt8] { [UInt8(value & 0xFF), UInt8(value >> 8 & 0xFF)] }
        func le32(_ value: UInt32) -> [UInt8] { (0..<4).map { UInt8(value >> (8 * $0) & 0xFF) } }
        var out: [UInt8] = [], central: [UInt8] = []
        for (name, bytes) in entries {
            let offset = UInt32(out.count), crc = crc32(bytes), size = le32(UInt32(bytes.count)), nameBytes = Array(name.utf8)
            out += [0x50, 0x4B, 0x03, 0x04] + le16(20) + le16(0) + le16(0) + le16(0) + le16(0) + le32(crc) + size + size
                + le16(nameBytes.count) + le16(0) + nameBytes + bytes
            central += [0x50, 0x4B, 0x01, 0x02] + le16(20) + le16(20) + le16(0) + le16(0) + le16(0) + le16(0) + le32(crc) + size + size
                + le16(nameBytes.count) + le16(0) + le16(0) + le16(0) + le16(0) + le32(0) + le32(offset) + nameBytes
        }
        let centralOffset = UInt32(out.count)
        out += central + [0x50, 0x4B, 0x05, 0x06] + le16(0) + le16(0) + le16(entries.count) + le16(entries.count)
            + le32(UInt32(central.count)) + le32(centralOffset) + le16(0)
        return Data(out)
    }

    /// Pickle opcodes, for handcrafted files.
    enum P {
        static let proto: [UInt8] = [0x80, 0x02], stop: [UInt8] = [0x2E], mark: [UInt8] = [0x28], emptyDict: [UInt8] = [0x7D]
        static let emptyTuple: [UInt8] = [0x29], reduce: [UInt8] = [0x52], setitems: [UInt8] = [0x75], setitem: [UInt8] = [0x73]
        static let tuple: [UInt8] = [0x74], persid: [UInt8] = [0x51], newFalse: [UInt8] = [0x89], emptyList: [UInt8] = [0x5D]
        static let append: [UInt8] = [0x61]
        static func global(_ module: String, _ name: String) -> [UInt8] { [0x63] + Array("\(module)\n\(name)\n".utf8) }
        static func string(_ text: String) -> [UInt8] {
            let bytes = Array(text.utf8)
            return [0x58] + (0..<4).map { UInt8(bytes.count >> (8 * $0) & 0xFF) } + bytes
        }
        static func int(_ value: Int32) -> [UInt8] { [0x4A] + (0..<4).map { UInt8(UInt32(bitPattern: value) >> (8 * UInt32($0)) & 0xFF) } }
        static func long(_ value: Int64) -> [UInt8] { [0x8A, 8] + (0..<8).map { UInt8(UInt64(bitPattern: value) >> (8 * UInt64($0)) & 0xFF) } }
        static func ints(_ values: [Int64]) -> [UInt8] { mark + values.flatMap(long) + tuple }
        /// `_rebuild_tensor_v2(('storage', torch.FloatStorage, key, 'cpu', numel), offset, size, stride, False, OrderedDict())`.
        static func tensor(key: String, numel: Int64, offset: Int64, size: [Int64], stride: [Int64]) -> [UInt8] {
            global("torch._utils", "_rebuild_tensor_v2") + mark
                + mark + string("storage") + global("torch", "FloatStorage") + string(key) + string("cpu") + long(numel) + tuple + persid
                + long(offset) + ints(size) + ints(stride) + newFalse + global("collections", "OrderedDict") + emptyTuple + reduce
                + tuple + reduce
        }
        /// `{name: tensor}` as a whole pickle.
        static func stateDict(_ pairs: [(String, [UInt8])]) -> [UInt8] {
            proto + emptyDict + mark + pairs.flatMap { string($0.0) + $0.1 } + setitems + stop
        }
    }

    static func archive(_ pickle: [UInt8], storages: [(String, [UInt8])] = []) -> Data {
        zip([("archive/data.pkl", pickle), ("archive/byteorder", Array("little".utf8))] + storages.map { ("archive/data/\($0.0)", $0.1) })
    }

    /// The error for `data`, which must be a `CheckpointError` naming `path` ("" when it loads).
    private func message(_ data: Data, key: String? = nil, path: String = "hostile.pth") -> String {
        do {
            _ = try CheckpointFile.decode(data, path: path, key: key)
            return ""
        } catch {
            #expect(error.path == path && !error.problem.isEmpty)
            return error.problem
        }
    }

    static let fourFloats: [UInt8] = [Float]([1, 2, 3, 4]).flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) }

    @Test func handcraftedFilesLoadOrAreRefusedByName() {
        let good = Self.archive(P.stateDict([("w", P.tensor(key: "0", numel: 4, offset: 0, size: [2, 2], stride: [1, 2]))]),
                                storages: [("0", Self.fourFloats)])
        let contents = try? CheckpointFile.decode(good, path: "good.pth")
        #expect(contents?.tensors["w"] == SafetensorsFile.Tensor(shape: [2, 2], data: [1, 3, 2, 4]), "a transposed view")
        let cases: [(String, [UInt8], [(String, [UInt8])], String)] = [
            ("os.system", P.proto + P.global("os", "system") + P.string("echo pwned") + [0x85] + P.reduce + P.stop, [],
             "refers to the global 'os.system', which cnnspec refuses"),
            ("builtins.eval via STACK_GLOBAL", P.proto + [0x8C, 8] + Array("builtins".utf8) + [0x8C, 4] + Array("eval".utf8) + [0x93] + P.stop, [],
             "refers to the global 'builtins.eval'"),
            ("a model class", P.proto + P.global("__main__", "Net") + P.emptyTuple + [0x81] + P.stop, [], "'__main__.Net'"),
            ("INST opcode", P.proto + [0x69] + Array("os\nsystem\n".utf8) + P.stop, [], "pickle opcode 0x69"),
            ("storage out of range", P.stateDict([("w", P.tensor(key: "0", numel: 4, offset: 3, size: [2, 2], stride: [2, 1]))]),
             [("0", Self.fourFloats)], "read element 6, but the storage holds 4"),
            ("numel disagrees with the entry", P.stateDict([("w", P.tensor(key: "0", numel: 1 << 40, offset: 0, size: [2], stride: [1]))]),
             [("0", Self.fourFloats)], "says 1099511627776 F32 elements but the entry holds 16 bytes"),
            ("huge shape, stride 0", P.stateDict([("w", P.tensor(key: "0", numel: 4, offset: 0, size: [1 << 30, 1 << 30], stride: [0, 0]))]),
             [("0", Self.fourFloats)], "more than the file's storages hold"),
            ("overflowing shape", P.stateDict([("w", P.tensor(key: "0", numel: 4, offset: 0, size: [1 << 62, 1 << 62], stride: [0, 0]))]),
             [("0", Self.fourFloats)], "more than 2^63 elements"),
            ("overflowing stride", P.stateDict([("w", P.tensor(key: "0", numel: 4, offset: 0, size: [3], stride: [Int64.max]))]),
             [("0", Self.fourFloats)], "reaches past any storage"),
            ("negative size", P.stateDict([("w", P.tensor(key: "0", numel: 4, offset: 0, size: [-2], stride: [1]))]),
             [("0", Self.fourFloats)], "non-negative whole sizes"),
            ("missing storage", P.stateDict([("w", P.tensor(key: "7", numel: 4, offset: 0, size: [4], stride: [1]))]),
             [("0", Self.fourFloats)], "refers to storage archive/data/7, which the archive lacks"),
            ("memo GET never PUT", P.proto + [0x68, 9] + P.stop, [], "entry 9, which was never stored"),
            ("string longer than the file", P.proto + [0x58, 0xFF, 0xFF, 0xFF, 0x7F] + P.stop, [], "declares 2147483647 bytes"),
            ("LONG4 of 2^31 bytes", P.proto + [0x8B, 0, 0, 0, 0x80] + P.stop, [], "declares 2147483648 bytes"),
            ("truncated pickle", Array(P.stateDict([("w", P.tensor(key: "0", numel: 4, offset: 0, size: [4], stride: [1]))]).dropLast(9)),
             [("0", Self.fourFloats)], "truncated"),
            ("not a dict", P.proto + P.emptyList + P.stop, [], "holds a list, not a dict"),
            ("no tensors", P.proto + P.emptyDict + P.string("epoch") + P.int(3) + P.setitem + P.stop, [],
             "holds no tensors and no 'state_dict', 'model_state_dict', 'model' entry"),
            ("non-string key", P.proto + P.emptyDict + P.int(1) + P.tensor(key: "0", numel: 4, offset: 0, size: [4], stride: [1]) + P.setitem + P.stop,
             [("0", Self.fourFloats)], "has a integer 1 key"),
            ("backward hooks", P.stateDict([("w", P.global("torch._utils", "_rebuild_tensor_v2") + P.mark + P.mark + P.string("storage")
                + P.global("torch", "FloatStorage") + P.string("0") + P.string("cpu") + P.long(4) + P.tuple + P.persid + P.long(0)
                + P.ints([4]) + P.ints([1]) + P.newFalse + P.emptyDict + P.string("h") + P.int(1) + P.setitem + P.tuple + P.reduce)]),
             [("0", Self.fourFloats)], "backward hooks"),
        ]
        for (name, pickle, storages, expected) in cases {
            let text = message(Self.archive(pickle, storages: storages))
            #expect(text.contains(expected), "\(name): \(text)")
        }
        #expect(message(Self.zip([("x/y/data.pkl", P.proto + P.emptyDict + P.stop)])).contains("needs exactly one NAME/data.pkl"))
        #expect(message(Self.zip([("archive/data.pkl", P.proto + P.emptyDict + P.stop), ("archive/byteorder", Array("big".utf8))]))
            .contains("byteorder says 'big'"))
        #expect(message(Data([0x50, 0x4B, 0x03, 0x04, 1, 2, 3])).contains("not a readable zip archive"))
        #expect(message(Data([0x80, 0x04, 0x95, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00])).contains("a bare pickle"))
    }

    @Test func deepNestingIsNotRecursion() {
        // 200,000 nested lists (each appended into the one before), then as a dict value: no stack overflow, freeing included.
        var pickle = P.proto + P.emptyDict + P.string("x") + P.emptyList
        for _ in 0..<200_000 { pickle += P.emptyList }  // folded by the APPENDs into a chain 200,001 lists deep
        pickle += Array(repeating: 0x61, count: 200_000)
        pickle += P.setitem + P.stop
        #expect(message(Self.archive(pickle)).contains("holds no tensors"))
        // A list appended into itself: a cycle in the arena, harmless.
        let cycle = P.proto + P.emptyList + [0x71, 0] + [0x68, 0] + P.append + P.stop
        #expect(message(Self.archive(cycle)).contains("holds a list, not a dict"))
    }

    /// The real fixture's pickle, mutated and re-zipped with its storages: loads or is refused, never traps.
    @Test func mutatedPicklesAreLoadedOrRefused() throws {
        let original = try Data(contentsOf: PyTorchCheckpointTests.folder.appendingPathComponent("bn_net.pth"))
        let archive = try ZipArchive(original)
        var entries: [(String, [UInt8])] = []
        for entry in archive.entries { entries.append((entry.name, try archive.read(entry, limit: 1 << 20))) }
        let pickleIndex = try #require(entries.firstIndex { $0.0.hasSuffix("/data.pkl") })
        #expect(message(Self.zip(entries)).isEmpty, "the re-zipped original loads")
        var rng = SplitMix64(seed: 2026_12_07)
        let hostile: [[UInt8]] = [[0xFF, 0xFF, 0xFF, 0x7F], [0, 0, 0, 0x80], [0x63], [0x93], [0x52], [0x62], [0x51], [0x28], [0x2E],
                                  [0x68, 0xFF], [0x8A, 8, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F], [0x4A, 0, 0, 0, 0x80]]
        for _ in 0..<800 {
            var pickle = entries[pickleIndex].1
            for _ in 0..<(1 + rng.index(below: 3)) {
                let at = rng.index(below: pickle.count)
                switch rng.index(below: 4) {
                case 0: pickle[at] ^= UInt8(1 << rng.index(below: 8))
                case 1: pickle.removeSubrange(at..<min(pickle.count, at + 1 + rng.index(below: 40)))
                case 2: pickle.insert(contentsOf: hostile[rng.index(below: hostile.count)], at: at)
                default: pickle[at] = UInt8(rng.index(below: 256))
                }
                if pickle.isEmpty { pickle = [0x2E] }
            }
            var mutated = entries
            mutated[pickleIndex].1 = pickle
            _ = message(Self.zip(mutated))
        }
    }

    /// Whole files (zip headers, sizes, CRCs, storages) truncated, bit-flipped and overwritten with hostile numbers.
    @Test func mutatedZipsAreLoadedOrRefused() throws {
        let original = [UInt8](try Data(contentsOf: PyTorchCheckpointTests.folder.appendingPathComponent("bn_net.pth")))
        var rng = SplitMix64(seed: 21)
        let hostile: [[UInt8]] = [[0xFF, 0xFF, 0xFF, 0xFF], [0, 0, 0, 0], [0xFF, 0xFF, 0xFF, 0x7F], [1, 0, 0, 0], [0x50, 0x4B, 0x05, 0x06]]
        for round in 0..<500 {
            var bytes = original
            for _ in 0..<(1 + rng.index(below: 3)) where bytes.count > 16 {
                switch rng.index(below: 4) {
                case 0: bytes.removeLast(rng.index(below: bytes.count - 4))
                case 1: bytes[rng.index(below: bytes.count)] ^= UInt8(1 << rng.index(below: 8))
                case 2:
                    let value = hostile[rng.index(below: hostile.count)]
                    let at = rng.index(below: bytes.count - value.count)
                    // Near a header (the start, or the central directory at the end) half of the time.
                    let position = round % 2 == 0 ? at : max(0, bytes.count - 1 - rng.index(below: min(bytes.count - value.count, 1500)) - value.count)
                    bytes.replaceSubrange(position..<position + value.count, with: value)
                default: bytes += (0..<rng.index(below: 64)).map { _ in UInt8(rng.index(below: 256)) }
                }
            }
            _ = message(Data(bytes))
        }
    }
}
