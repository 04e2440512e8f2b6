import Foundation
import Testing
@testable import CNNSpec

/// The first diagnostic of loading a minimal config with `overrides`, or nil when it loads.
private func firstProblem(_ overrides: [String]) -> Diagnostic? {
    do {
        _ = try RunConfigLoader.parse("model: m.yaml\n", file: "cfg.yaml", overrides: overrides)
        return nil
    } catch {
        return error.diagnostics.first
    }
}

/// Integers the validator used to accept and arithmetic then trapped on are refused with the key and range.
@Test(arguments: [
    ("train.iterations=9223372036854775807", "'train.iterations' must be in 1...1000000000"),
    ("train.epochs=4611686018427387904", "'train.epochs' must be in 1...1000000"),
    ("train.batch_size=4611686018427387904", "'train.batch_size' must be in 1...65536"),
    ("train.eval_batch_size=9223372036854775807", "'train.eval_batch_size' must be in 1...65536"),
    ("train.threads=1000000000", "'train.threads' must be in 0...256"),
    ("train.seed=9223372036854775807", "'train.seed' must be in 0...9007199254740992"),
    ("train.iterations=99999999999999999999999", "'train.iterations' must be a whole number in 1...1000000000"),
])
func hugeIntegersAreRefusedWithTheirRange(_ override: String, _ expected: String) throws {
    let problem = try #require(firstProblem([override]))
    #expect(problem.message.hasPrefix(expected), "\(problem.message)")
}

@Test func boundsThemselvesAreAccepted() {
    #expect(firstProblem(["train.batch_size=65536", "train.threads=256", "train.iterations=1000000000"]) == nil)
}

@Test func sweepSamplesAndGridSizeAreBounded() throws {
    let random = "base: c.yaml\nmode: random\nsamples: 1000000000\nvary: {train.optimizer.lr: [0.1, 0.2]}\n"
    #expect(throws: SpecError.self) { try SweepSpecLoader.parse(random, file: "s.yaml") }
    do { _ = try SweepSpecLoader.parse(random, file: "s.yaml") } catch {
        #expect(error.diagnostics.first?.message.hasPrefix("'samples' must be in 1...10000") == true)
        #expect(error.diagnostics.first?.location?.line == 3)
    }
    let values = "[" + (0..<200).map(String.init).joined(separator: ", ") + "]"
    let grid = "base: c.yaml\nvary:\n  train.seed: \(values)\n  train.batch_size: \(values)\n"
    do {
        _ = try SweepSpecLoader.parse(grid, file: "s.yaml")
        Issue.record("a 40,000-point grid loaded")
    } catch {
        #expect(error.diagnostics.first?.message.contains("40000 points") == true)
    }
}

@Test func checkpointIntervalsParse() throws {
    #expect(CheckpointInterval(text: "5m") == .seconds(300))
    #expect(CheckpointInterval(text: "300s") == .seconds(300))
    #expect(CheckpointInterval(text: "2h") == .seconds(7200))
    #expect(CheckpointInterval(text: "500") == .iterations(500))
    #expect(CheckpointInterval(text: "off") == .never)
    #expect(CheckpointInterval(text: "5x") == nil && CheckpointInterval(text: "9999999h") == nil)
    #expect(CheckpointInterval.seconds(300).description == "5m")
    let config = try RunConfigLoader.parse("model: m.yaml\ntrain: {checkpoint_every: 90s}\n", file: "cfg.yaml")
    #expect(config.train.checkpointEvery == .seconds(90))
    #expect(config.yamlText.contains("checkpoint_every: 90s"))
    #expect(firstProblem(["train.checkpoint_every=soon"])?.message == "'train.checkpoint_every' cannot be 'soon'")
}

@Test(arguments: ["../../../../somewhere/else", "a\nb", ".hidden", ""])
func runNamesMustBePlainFolderNames(_ name: String) throws {
    let text = "model: m.yaml\nname: \"\(name.replacingOccurrences(of: "\n", with: "\\n"))\"\n"
    do {
        _ = try RunConfigLoader.parse(text, file: "cfg.yaml")
        Issue.record("name '\(name)' accepted")
    } catch {
        #expect(error.diagnostics.first?.message.hasPrefix("'name' must be a plain folder name") == true)
        #expect(error.diagnostics.first?.location?.line == 2)
    }
}

/// A `model:` or sweep `base:` that cannot be opened is reported where the path was written.
@Test func unopenableModelAndBaseAreLocated() throws {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("cnnspec-paths-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    let config = folder.appendingPathComponent("c.yaml")
    try "name: c\nmodel: missing.yaml\n".write(to: config, atomically: true, encoding: .utf8)
    do {
        _ = try RunConfigLoader.load(path: config.path)
        Issue.record("a missing model loaded")
    } catch {
        #expect(error.diagnostics.first?.location == SourceLocation(file: config.path, line: 2, column: 8))
        #expect(error.diagnostics.first?.message.hasSuffix("missing.yaml': no such file") == true)
    }
    do {
        _ = try RunConfigLoader.load(path: config.path, overrides: ["model=/"])
        Issue.record("a directory loaded as the model")
    } catch {
        #expect(error.diagnostics.first?.location?.file == "--set model")
        #expect(error.diagnostics.first?.message.hasSuffix("it is a directory") == true)
    }
    let sweep = folder.appendingPathComponent("s.yaml")
    try "base: nothere.yaml\nvary: {train.seed: [1, 2]}\n".write(to: sweep, atomically: true, encoding: .utf8)
    do {
        _ = try SweepSpecLoader.load(path: sweep.path)
        Issue.record("a sweep with a missing base loaded")
    } catch {
        #expect(error.diagnostics.first?.location == SourceLocation(file: sweep.path, line: 1, column: 7))
        #expect(error.diagnostics.first?.message.hasPrefix("base config: cannot open") == true)
    }
}

@Test func userErrorsPrintLocatedDiagnostics() {
    #expect(UserError("no such run folder", file: "runs/x").description == "runs/x: error: no such run folder")
    #expect(UserError("bad", at: SourceLocation(file: "c.yaml", line: 3, column: 5), hint: "fix it").description
        == "c.yaml:3:5: error: bad\n    hint: fix it")
    #expect(UserError("flag").description == "error: flag")
    let spec: any UserFacingError = SpecError([Diagnostic("a", at: nil), Diagnostic("b", at: nil)])
    #expect(spec.diagnostics.count == 2)
}
