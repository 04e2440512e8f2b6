import Foundation
import Testing
import CNNLayers
@testable import CNNSpec

/// Random and mutated model files must give a graph or diagnostics, never a trap.
@Suite struct SpecFuzzTests {
    static let tokens = ["9999999999999999999", "-1", "0", "-9223372036854775808", "1048577", "same", "valid", "~", "[]", "{}",
                         "[[[[[[", "]]", "{out: 4}", "relu", "add", "concat", "from: input", "name: x", "$out", "repeat: 1000",
                         "&a", "*a", "'quoted'", "1e308", ".nan", ":", "- ", "\t", "0x7fffffffffffffff", "global_avgpool"]

    private func loadNeverTraps(_ text: String) {
        do {
            let graph = try ModelSpecLoader.load(yaml: text, file: "fuzz.yaml", catalog: .standard)
            #expect(!graph.nodes.isEmpty)
            _ = ShapeReport(graph: graph, file: "fuzz.yaml").render(.json)
        } catch {
            #expect(!error.diagnostics.isEmpty)
        }
    }

    private func mutate(_ text: String, using rng: inout SplitMix64) -> String {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        for _ in 0..<Int.random(in: 1...4, using: &rng) {
            guard !lines.isEmpty else { break }
            let index = Int.random(in: 0..<lines.count, using: &rng)
            switch Int.random(in: 0..<7, using: &rng) {
            case 0: lines.remove(at: index)
            case 1: lines.insert(lines[index], at: index)
            case 2: lines.swapAt(index, Int.random(in: 0..<lines.count, using: &rng))
            case 3:
                var bytes = Array(lines[index].utf8)
                if !bytes.isEmpty { bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng) }
                lines[index] = String(decoding: bytes, as: UTF8.self)
            case 4:
                let words = lines[index].split(separator: " ", omittingEmptySubsequences: false).map(String.init)
                guard !words.isEmpty else { break }
                var changed = words
                changed[Int.random(in: 0..<words.count, using: &rng)] = Self.tokens.randomElement(using: &rng) ?? ""
                lines[index] = changed.joined(separator: " ")
            case 5:
                // Replace one number in the line by a hostile one.
                let hostile = ["9999999999999999999", "-5", "0", "1048576", "1000000"].randomElement(using: &rng) ?? "0"
                if let range = lines[index].range(of: "[0-9]+", options: .regularExpression) {
                    lines[index].replaceSubrange(range, with: hostile)
                }
            default:
                lines[index] += " " + (Self.tokens.randomElement(using: &rng) ?? "")
            }
        }
        return lines.joined(separator: "\n")
    }

    @Test func mutatedModelFilesNeverTrap() throws {
        var rng = SplitMix64(seed: 20_251_123)
        let files = try FileManager.default.contentsOfDirectory(atPath: SpecTestSupport.modelsDirectory.path)
            .filter { $0.hasSuffix(".yaml") && !$0.hasPrefix("vgg") && !$0.hasPrefix("alexnet") }.sorted()
        let sources = try files.map { try String(contentsOfFile: SpecTestSupport.modelPath($0), encoding: .utf8) }
        for round in 0..<1500 {
            let source = sources[round % sources.count]
            loadNeverTraps(mutate(source, using: &rng))
        }
    }

    @Test func randomTokenSoupNeverTraps() {
        var rng = SplitMix64(seed: 7)
        for _ in 0..<500 {
            var text = "input: [1, 28, 28]\nlayers:\n"
            for _ in 0..<Int.random(in: 0...12, using: &rng) {
                text += String(repeating: " ", count: Int.random(in: 0...4, using: &rng))
                text += (0..<Int.random(in: 1...4, using: &rng)).map { _ in Self.tokens.randomElement(using: &rng) ?? "" }.joined(separator: " ")
                text += "\n"
            }
            loadNeverTraps(text)
        }
    }

    @Test func deeplyNestedAndHugeInputsAreErrors() {
        loadNeverTraps("layers: " + String(repeating: "[", count: 100_000))
        loadNeverTraps("input: [1, 28, 28]\nlayers:\n  - conv: " + String(repeating: "{a: ", count: 300) + "1" + String(repeating: "}", count: 300))
        let many = "input: [1, 8, 8]\nlayers:\n" + String(repeating: "  - relu\n", count: 20_000) + "  - flatten\n  - linear: 2\n"
        loadNeverTraps(many)
        let nestedRepeats = "input: [1, 8, 8]\nlayers:\n" + (0..<40).map { depth in
            String(repeating: "  ", count: 2 * depth + 1) + "- repeat: 1000\n" + String(repeating: "  ", count: 2 * depth + 2) + "layers:\n"
        }.joined() + String(repeating: "  ", count: 81) + "- relu\n"
        loadNeverTraps(nestedRepeats)
        let blockBomb = """
        input: [1, 8, 8]
        blocks:
          a: {layers: [relu, relu, relu, relu, relu, relu, relu, relu, relu, relu]}
          b: {layers: [a, a, a, a, a, a, a, a, a, a]}
          c: {layers: [b, b, b, b, b, b, b, b, b, b]}
          d: {layers: [c, c, c, c, c, c, c, c, c, c]}
          e: {layers: [d, d, d, d, d, d, d, d, d, d]}
          f: {layers: [e, e, e, e, e, e, e, e, e, e]}
        layers: [f, f, f]
        """
        let diagnostics = SpecTestSupport.diagnostics(blockBomb)
        #expect(diagnostics.contains { $0.message.contains("more than \(SpecLimits.maximumLayers) layers") })
        loadNeverTraps(String(repeating: "x", count: 2_000_000))
        loadNeverTraps(String(decoding: (0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 7) }, as: UTF8.self))
    }

    @Test func extremeNumbersInEveryFieldNeverTrap() {
        let values = ["9999999999999999999", "1048576", "1048575", "-1", "0", "1", "2", "[1048576, 1]", "[0, 0]", "-9223372036854775808"]
        for value in values {
            for layer in ["conv: {out: \(value), kernel: 1}", "conv: {out: 2, kernel: \(value)}", "conv: {out: 2, kernel: 3, stride: \(value)}",
                          "conv: {out: 2, kernel: 3, padding: \(value)}", "maxpool: {kernel: \(value)}", "maxpool: {kernel: 3, stride: \(value), padding: 1}",
                          "avgpool: \(value)", "linear: \(value)", "linear: {out: 2, in: \(value)}", "batchnorm2d: \(value)", "dropout: \(value)",
                          "leaky_relu: \(value)"] {
                for input in ["[1, 28, 28]", "[1048576, 1048576, 1048576]", "[\(value), 4, 4]"] {
                    loadNeverTraps(SpecTestSupport.model([layer, "conv: {out: 1048576, kernel: 1}", "linear: 1048576"], input: input))
                }
            }
        }
    }
}
