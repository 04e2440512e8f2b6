import CNNSpec
import Foundation
import Testing
@testable import CNNTrain

/// A seeded slice of scripts/fuzz run in-process: mutated configs, sweep files, `--set` values and IDX /
/// CIFAR-10 files must load or be rejected with located diagnostics — never trap, never allocate what the
/// input merely claims. (The full harness runs the release binary under a memory cap: scripts/fuzz.)
@Suite struct FuzzSliceTests {
    static let numbers = ["0", "-1", "65537", "2147483648", "4294967296", "4611686018427387904", "9223372036854775807",
                          "99999999999999999999999", "1e308", ".nan", "0x7fffffffffffffff", "1_000_000_000", "1.9"]
    static let tokens = ["~", "[]", "{}", "[[[[", "]]", "&a [1]", "*a", "*nope", "'q'", ":", "- ", "\t", "|", "---",
                         "name: ../x", "model: /etc/passwd", "dataset: cifar10", "checkpoint_every: 5x", "repeat: 100000"]
    static let keys = ["train.batch_size", "train.eval_batch_size", "train.epochs", "train.iterations", "train.threads",
                       "train.seed", "train.optimizer.lr", "train.schedule.milestones", "train.checkpoint_every",
                       "data.validation_split", "data.train_transforms", "output.checkpoint.every_epochs", "name", "train"]

    private static func element<T>(_ list: [T], _ rng: inout SplitMix64) -> T { list[rng.index(below: list.count)] }

    private func mutate(_ text: String, _ rng: inout SplitMix64) -> String {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        for _ in 0..<(1 + rng.index(below: 3)) where !lines.isEmpty {
            let index = rng.index(below: lines.count)
            switch rng.index(below: 5) {
            case 0: lines.remove(at: index)
            case 1: lines.insert(lines[index], at: index)
            case 2:
                if let range = lines[index].range(of: "-?[0-9]+(\\.[0-9]+)?", options: .regularExpression) {
                    lines[index].replaceSubrange(range, with: Self.element(Self.numbers, &rng))
                }
            case 3: lines[index] += " " + Self.element(Self.tokens, &rng)
            default:
                if let colon = lines[index].firstIndex(of: ":") {
                    lines[index] = String(lines[index][...colon]) + " " + Self.element(Self.numbers + Self.tokens, &rng)
                }
            }
        }
        return lines.joined(separator: "\n")
    }

    /// Every diagnostic is located: a file position, or a key path quoted in the message.
    private func expectLocated(_ error: SpecError, _ input: String) {
        #expect(!error.diagnostics.isEmpty)
        for diagnostic in error.diagnostics {
            #expect(diagnostic.location != nil || diagnostic.message.contains("'"), "unlocated: \(diagnostic.message)\n\(input)")
        }
    }

    private func sources(_ folder: String) throws -> [String] {
        let url = TrainingTestSupport.repository.appendingPathComponent(folder)
        return try FileManager.default.contentsOfDirectory(atPath: url.path).filter { $0.hasSuffix(".yaml") }.sorted()
            .map { try String(contentsOf: url.appendingPathComponent($0), encoding: .utf8) }
    }

    @Test func mutatedConfigsSweepsAndOverridesAreLoadedOrLocated() throws {
        var rng = SplitMix64(seed: 2026_11_26)
        let configs = try sources("configs"), sweeps = try sources("configs/sweeps")
        for round in 0..<1_500 {
            let text = mutate(configs[round % configs.count], &rng)
            do { _ = try RunConfigLoader.parse(text, file: "fuzz.yaml") } catch { expectLocated(error, text) }
            let overrides = (0..<(1 + rng.index(below: 2))).map { _ in
                Self.element(Self.keys, &rng) + "=" + Self.element(Self.numbers + Self.tokens, &rng)
            }
            do { _ = try RunConfigLoader.parse(configs[round % configs.count], file: "c.yaml", overrides: overrides) } catch {
                expectLocated(error, overrides.joined(separator: " "))
            }
            let sweep = mutate(sweeps[round % sweeps.count], &rng)
            do { _ = try SweepSpecLoader.parse(sweep, file: "s.yaml") } catch { expectLocated(error, sweep) }
        }
    }

    @Test func mutatedIDXAndCIFARFilesAreLoadedOrRejected() throws {
        var rng = SplitMix64(seed: 11)
        let folder = try DataTestFolder()
        defer { folder.remove() }
        let images = DataTestFolder.idxImages(count: 6, rows: 4, columns: 4)
        let labels = DataTestFolder.idxLabels([1, 2, 3, 4, 5, 6])
        let cifar = DataTestFolder.cifarRecords([1, 2])
        let hostile: [UInt32] = [0, 1, 0xFF, 0x7FFF_FFFF, 0xFFFF_FFFF, 10_000_001, 4097]
        for round in 0..<600 {
            var bytes = [images, labels, cifar][round % 3]
            for _ in 0..<(1 + rng.index(below: 3)) {
                switch rng.index(below: 4) {
                case 0:
                    let offset = rng.index(below: min(13, bytes.count - 3))
                    bytes.replaceSubrange(offset..<offset + 4, with: DataTestFolder.bigEndian(Self.element(hostile, &rng)))
                case 1: bytes.removeLast(rng.index(below: min(bytes.count - 4, 40) + 1))
                case 2: bytes += [UInt8](repeating: UInt8(rng.index(below: 256)), count: rng.index(below: 100))
                default: bytes[rng.index(below: bytes.count)] ^= 0x80
                }
            }
            let name = "f\(round)" + (round % 4 == 0 ? ".gz" : "")
            try folder.write(bytes, name)
            switch round % 3 {
            case 0: _ = try? IDXFile.readImages(path: folder.path(name))
            case 1: _ = try? IDXFile.readLabels(path: folder.path(name), classCount: 10)
            default: _ = try? CIFAR10File.read(path: folder.path(name))
            }
            try? FileManager.default.removeItem(atPath: folder.path(name))
        }
    }
}
