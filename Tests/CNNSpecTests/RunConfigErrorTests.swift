import Testing
@testable import CNNSpec

/// The diagnostics of the run config `text` (with `overrides`), or an empty list when it loads.
func diagnostics(_ text: String, overrides: [String] = []) -> [Diagnostic] {
    do {
        _ = try RunConfigLoader.parse(text, file: "cfg.yaml", overrides: overrides)
        return []
    } catch {
        return error.diagnostics
    }
}

@Test func unknownKeyIsReportedWithLineAndSuggestion() throws {
    let found = diagnostics("model: m.yaml\ntrain:\n  batch_size: 10\n  optimizr: {lr: 0.1}\n")
    let only = try #require(found.first)
    #expect(found.count == 1)
    #expect(only.location == SourceLocation(file: "cfg.yaml", line: 4, column: 3))
    #expect(only.message == "unknown key 'optimizr' in 'train'")
    #expect(only.hint?.contains("did you mean 'optimizer'?") == true)
}

@Test func everyErrorInTheFileIsReported() {
    let text = """
    model: m.yaml
    data:
      dataset: cifar
      validation_split: 1.5
    train:
      batch_size: -3
      optimizer: {name: sgd, lr: fast, betas: [0.9, 0.99]}
      schedule: {name: multistep}
    """
    let found = diagnostics(text)
    let messages = found.map(\.message)
    #expect(messages.contains("'data.dataset' cannot be 'cifar'"))
    #expect(found.first { $0.message.contains("data.dataset") }?.hint?.contains("did you mean 'cifar10'?") == true)
    #expect(messages.contains("'data.validation_split' must be in [0.0, 1.0), found 1.5"))
    #expect(messages.contains("'train.batch_size' must be in 1...65536, found -3"))
    #expect(messages.contains("'train.optimizer.lr' must be a number, found 'fast'"))
    #expect(messages.contains("'train.optimizer.betas' applies to adam and adamw, not 'sgd'"))
    #expect(messages.contains("schedule 'multistep' needs 'train.schedule.milestones'"))
    #expect(found.count == 6)
    #expect(found.first { $0.message.contains("batch_size") }?.location?.line == 6)
}

@Test func missingModelIsAnError() {
    let found = diagnostics("train: {batch_size: 5}\n")
    #expect(found.map(\.message) == ["the config names no model spec"])
}

@Test func transformErrorsNameTheListEntry() {
    let text = """
    model: m.yaml
    data:
      train_transforms:
        - scale
        - resize: [32, 32]
        - normalise: auto
        - normalize: {mean: [0.5, 0.5], std: [0.2]}
    """
    let found = diagnostics(text)
    #expect(found.map(\.message) == [
        "'data.train_transforms[1]': resize must come before scale",
        "unknown transform 'normalise' in 'data.train_transforms[2]'",
        "'data.train_transforms[3].normalize.mean' has 2 values but the images have 1 channel",
    ])
    #expect(found.map { $0.location?.line } == [5, 6, 7])
    #expect(found[1].hint?.contains("did you mean 'normalize'?") == true)
}

@Test func epochsAndIterationsExcludeEachOther() {
    let found = diagnostics("model: m.yaml\ntrain: {epochs: 3, iterations: 100}\n")
    #expect(found.map(\.message) == ["give either 'train.epochs' (3) or 'train.iterations' (100), not both"])
}

/// `output.dir: ""` would silently mean the default folder: it is refused; `~` (null) is the default.
@Test func emptyOutputDirIsRefusedAndNullIsTheDefault() throws {
    let found = diagnostics("model: m.yaml\noutput: {dir: \"\"}\n")
    let only = try #require(found.first)
    #expect(found.count == 1 && only.message == "'output.dir' is empty text" && only.location?.line == 2)
    #expect(only.hint?.contains("null (~)") == true)
    #expect(!diagnostics("model: m.yaml\noutput: {dir: ''}\n").isEmpty)
    #expect(!diagnostics("model: m.yaml\n", overrides: ["output.dir=''"]).isEmpty)
    let null = try RunConfigLoader.parse("model: m.yaml\noutput: {dir: ~}\n", file: "cfg.yaml")
    #expect(null.output.directory == nil)
}

/// A misspelt required key is one error — the unknown key with its suggestion — not also "needs 'key'".
@Test func aMisspeltRequiredKeyIsOneError() throws {
    let initTypo = diagnostics("model: m.yaml\ntrain: {init: {checkpiont: a.safetensors}}\n")
    #expect(initTypo.count == 1 && initTypo.first?.message == "unknown key 'checkpiont' in 'train.init'")
    #expect(initTypo.first?.hint?.hasPrefix("did you mean 'checkpoint'?") == true)
    let normalizeTypo = diagnostics("model: m.yaml\ndata: {train_transforms: [{normalize: {maen: [0.1], std: [0.3]}}]}\n")
    #expect(normalizeTypo.count == 1 && normalizeTypo.first?.message.hasPrefix("unknown key 'maen'") == true)
    // Without the typo the missing key is still reported.
    #expect(diagnostics("model: m.yaml\ntrain: {init: {strict: false}}\n").contains { $0.message.contains("needs 'checkpoint'") })
}
