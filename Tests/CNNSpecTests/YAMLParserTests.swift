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
