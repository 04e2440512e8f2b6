import Foundation
import Testing
@testable import CNNSpec

private func problems(_ text: String) -> [Diagnostic] {
    do {
        _ = try SweepSpecLoader.parse(text, file: "s.yaml")
        return []
    } catch {
        return error.diagnostics
    }
}

@Test func misspeltSweepKeysGetSuggestions() {
    let found = problems("base: c.yaml\nmdoe: grid\nvary: {train.optimizer.lr: [0.1]}\n")
    #expect(found.count == 1)
    #expect(found.first?.location == SourceLocation(file: "s.yaml", line: 2, column: 1))
    #expect(found.first?.hint?.hasPrefix("did you mean 'mode'?") == true)
}

@Test func rangesNeedRandomModeAndRandomNeedsSamples() {
    let grid = problems("base: c.yaml\nvary:\n  train.optimizer.lr: {log_uniform: [0.001, 0.1]}\n")
    #expect(grid.map(\.message) == ["'vary.train.optimizer.lr': log_uniform draws random numbers and needs 'mode: random'"])
    #expect(grid.first?.location?.line == 3)
    let random = problems("base: c.yaml\nmode: random\nvary: {train.optimizer.lr: {uniform: [0.1, 0.01]}}\n")
    #expect(random.contains { $0.message == "a random sweep needs 'samples'" })
    // 'sample' is taken for 'samples': one error, the unknown key, not also "needs 'samples'".
    let misspelt = problems("base: c.yaml\nmode: random\nsample: 4\nvary: {train.optimizer.lr: {uniform: [0.01, 0.1]}}\n")
    #expect(misspelt.map(\.message) == ["unknown key 'sample' at the top level"])
    #expect(random.contains { $0.message.hasPrefix("'vary.train.optimizer.lr.uniform' must be [low, high]") })
}

@Test func missingBaseAndSingleValuesAreReported() {
    let found = problems("mode: grid\nvary: {train.optimizer.lr: 0.1}\n")
    #expect(found.contains { $0.message == "the sweep names no base run config" })
    #expect(found.contains { $0.message.contains("must list the values to try") && $0.location?.line == 2 })
}

@Test func invalidPointValuesPointAtTheVariedKey() throws {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("sweep-errors-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    try "model: m.yaml\ntrain: {optimizer: {name: sgd, lr: 0.1}}\n"
        .write(to: folder.appendingPathComponent("c.yaml"), atomically: true, encoding: .utf8)
    let sweepPath = folder.appendingPathComponent("s.yaml").path
    try "base: c.yaml\nvary:\n  train.optimizer.lr: [0.1, fast]\n  train.optimzer.momentum: [0.9]\n"
        .write(toFile: sweepPath, atomically: true, encoding: .utf8)
    do {
        _ = try SweepSpecLoader.load(path: sweepPath)
        Issue.record("expected errors")
    } catch {
        let found = error.diagnostics
        #expect(found.contains { $0.message == "point 001-lrfast-momentum0.9: 'train.optimizer.lr' must be a number, found 'fast'"
            && $0.location == SourceLocation(file: sweepPath, line: 3, column: 3) })
        #expect(found.contains { $0.message.contains("unknown key 'optimzer'") && $0.location?.line == 4
            && $0.hint?.contains("did you mean 'optimizer'?") == true })
    }
}
