import CNNLayers
import Testing
@testable import CNNSpec

@Suite struct YAMLParserTests {
    @Test func keepsLineAndColumnOfEveryNode() throws {
        let node = try YAMLParser.parse("input: [1, 28, 28]\nlayers:\n  - conv: {out: 16}\n  - relu\n", file: "m.yaml")
        let layers = try #require(node["layers"])
        guard case .sequence(let items, _) = layers else { Issue.record("layers is not a list"); return }
        #expect(items.count == 2)
        #expect(items[1].location == SourceLocation(file: "m.yaml", line: 4, column: 5))
        #expect(items[0]["conv"]?["out"]?.intValue == 16)
    }

    @Test func syntaxErrorsPointAtTheLine() {
        #expect {
            _ = try YAMLParser.parse("a: [1, 2\nb: 3\n", file: "bad.yaml")
        } throws: { error in
            let text = String(describing: error)
            return text.hasPrefix("bad.yaml:") && text.contains("YAML syntax")
        }
    }

    @Test func duplicateKeysAreRejected() {
        #expect {
            _ = try YAMLParser.parse("a: 1\nb: 2\na: 3\n", file: "d.yaml")
        } throws: { error in
            String(describing: error).contains("d.yaml:3:1: error: duplicate key 'a' (first at line 1)")
        }
    }

    /// Content after the first document (a `---` or `...` line, or a first key indented so that the
    /// rest is not part of its mapping) is a located error, never silently dropped.
    @Test func contentAfterTheFirstDocumentIsAnError() {
        let cases: [(text: String, line: Int)] = [
            ("model: m.yaml\n---\ndata: {root: /nonexistent}\ntrain: {iterations: 1}\n", 2),
            ("model: m.yaml\n...\ndata: {root: /nonexistent}\n", 3),
            ("---\nmodel: m.yaml\n---\n", 3),
        ]
        for (text, line) in cases {
            #expect {
                _ = try YAMLParser.parse(text, file: "c.yaml")
            } throws: { error in
                let diagnostics = (error as? SpecError)?.diagnostics ?? []
                return diagnostics.count == 1 && diagnostics[0].location?.line == line
                    && diagnostics[0].message.hasPrefix("a second YAML document starts here")
            }
        }
        // The first key indented by one space: the later keys are not read silently.
        #expect {
            _ = try YAMLParser.parse(" model: m.yaml\ndata: {root: /nonexistent}\n", file: "c.yaml")
        } throws: { error in
            String(describing: error).hasPrefix("c.yaml:2:1: error: ")
        }
        // One document, with or without its markers, still parses.
        for text in ["---\na: 1\nb: 2\n", "a: 1\nb: 2\n...\n", "---\na: 1\nb: 2\n...\n"] {
            #expect((try? YAMLParser.parse(text, file: "c.yaml"))?["b"]?.intValue == 2, "\(text)")
        }
    }

    /// Model files, configs and sweep files all read through the parser: a second document in each is refused.
    @Test func everyLoaderRefusesASecondDocument() {
        let second = "\n---\nextra: 1\n"
        #expect(throws: SpecError.self) {
            _ = try ModelSpecLoader.load(yaml: "input: [1, 28, 28]\nlayers: [flatten, {linear: 10}]" + second, catalog: .standard)
        }
        #expect(throws: SpecError.self) { _ = try RunConfigLoader.parse("model: m.yaml" + second, file: "c.yaml") }
        #expect(throws: SpecError.self) {
            _ = try SweepSpecLoader.parse("base: c.yaml\nvary: {train.optimizer.lr: [0.1]}" + second, file: "s.yaml")
        }
    }

    @Test func deepNestingIsAnErrorNotACrash() {
        let deep = String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000)
        #expect(throws: SpecError.self) { _ = try YAMLParser.parse(deep, file: "deep.yaml") }
    }

    @Test func aliasBombIsRefused() {
        var text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
        for i in 1..<12 { text += "a\(i): &a\(i) [" + Array(repeating: "*a\(i - 1)", count: 10).joined(separator: ", ") + "]\n" }
        #expect(throws: SpecError.self) { _ = try YAMLParser.parse(text, file: "bomb.yaml") }
    }

    @Test func didYouMeanFindsTypos() {
        #expect(DidYouMean.suggestion(for: "kernal", among: ["kernel", "stride", "padding"]) == "kernel")
        #expect(DidYouMean.suggestion(for: "zzzzzz", among: ["kernel", "stride"]) == nil)
        #expect(DidYouMean.suggestion(for: "rleu", among: ["relu", "tanh", "linear"]) == "relu")
        #expect(DidYouMean.editDistance("rleu", "relu") == 1)
    }
}

/// The parser is linear in the number of items: 200,000 items (flow list, block list, mapping) parse
/// in well under the 5 s bound even in a debug build on a loaded machine (a quadratic builder took
/// 37 s for 40,000).
@Test func largeDocumentsParseInLinearTime() throws {
    let count = 200_000
    let flow = "items: [" + (0..<count).map(String.init).joined(separator: ", ") + "]\n"
    let block = "layers:\n" + String(repeating: "  - relu\n", count: count)
    let mapping = (0..<count).map { "k\($0): \($0)" }.joined(separator: "\n") + "\n"
    for (name, text) in [("flow", flow), ("block", block), ("mapping", mapping)] {
        let clock = ContinuousClock()
        let start = clock.now
        let root = try YAMLParser.parse(text, file: "big.yaml")
        let elapsed = clock.now - start
        #expect(elapsed < .seconds(5), "\(name): \(elapsed)")
        switch root {
        case .mapping(let pairs, _) where name == "mapping": #expect(pairs.count == count)
        case .mapping(let pairs, _):
            guard case .sequence(let items, _) = pairs[0].value else { Issue.record("\(name): not a list"); continue }
            #expect(items.count == count)
        default: Issue.record("\(name): not a mapping")
        }
    }
}

@Test func duplicateKeysAreStillFound() {
    do {
        _ = try YAMLParser.parse("a: 1\nb: 2\na: 3\n", file: "d.yaml")
        Issue.record("duplicate key accepted")
    } catch {
        #expect(error.diagnostics.first?.message == "duplicate key 'a' (first at line 1)")
        #expect(error.diagnostics.first?.location?.line == 3)
    }
}
