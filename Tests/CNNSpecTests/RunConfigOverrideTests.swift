import Testing
@testable import CNNSpec

private let base = "model: m.yaml\ntrain:\n  batch_size: 32\n  optimizer: {name: sgd, lr: 0.1}\n"

@Test func overridesReplaceAndAddKeys() throws {
    let config = try RunConfigLoader.parse(base, file: "c.yaml", overrides: [
        "train.optimizer.lr=0.05", "train.batch_size=64", "data.train_transforms=[resize: 32, scale]",
        "train.schedule.name=cosine",
    ])
    #expect(config.train.optimizer.learningRate == 0.05)
    #expect(config.train.batchSize == 64)
    #expect(config.data.trainTransforms == [.resizeShorter(size: 32), .scale])
    #expect(config.train.schedule.name == .cosine)
}

@Test func emptyOverrideRestoresTheDefault() throws {
    let config = try RunConfigLoader.parse(base, file: "c.yaml", overrides: ["train.batch_size="])
    #expect(config.train.batchSize == 64)
}

@Test func overrideErrorsNameTheOverride() throws {
    do {
        _ = try RunConfigLoader.parse(base, file: "c.yaml", overrides: ["train.optimizer.lr=abc", "train.optimzer.lr=1"])
        Issue.record("expected an error")
    } catch {
        let found = error.diagnostics
        #expect(found.count == 2)
        #expect(found.contains { $0.location?.file == "--set train.optimizer.lr"
            && $0.message == "'train.optimizer.lr' must be a number, found 'abc'" })
        #expect(found.contains { $0.location?.file == "--set train.optimzer.lr"
            && $0.message == "unknown key 'optimzer' in 'train'" && $0.hint?.contains("'optimizer'") == true })
    }
}

@Test func malformedOverrideIsRejected() {
    #expect(throws: SpecError.self) { try ConfigOverride(parsing: "train.lr") }
    #expect(throws: SpecError.self) { try ConfigOverride(parsing: "train..lr=1") }
}

@Test func overrideIntoAScalarIsAnError() {
    #expect(throws: SpecError.self) {
        try RunConfigLoader.parse(base, file: "c.yaml", overrides: ["train.batch_size.x=1"])
    }
}
