import Testing
import CNNSpec
import CNNTrain
import PyTorchFixtures

/// The per-epoch rates of `config` against the fixture's `lr_per_epoch`.
private func check(_ name: String, _ config: ScheduleConfig) throws {
    let fixture = try PyTorchFixture.load(name)
    let expected = try fixture.tensor("lr_per_epoch").data
    let base = (fixture.config["initial_lr"] as? Double) ?? .nan
    let epochs = (fixture.config["epochs"] as? Int) ?? 0
    #expect(expected.count == epochs)
    let schedule = try LearningRateSchedule(config: config, baseLearningRate: base, iterationsPerEpoch: 7, totalEpochs: epochs)
    let actual = (0..<epochs).map { Float(schedule.learningRate(epoch: $0, iteration: 3)) }
    #expect(maxRelativeError(actual, expected, floor: 1e-6) < 1e-5, "\(name): \(actual) vs \(expected)")
}

@Test func stepScheduleMatchesTheTutorialRule() throws {
    try check("schedule_step_10_0.1", ScheduleConfig(name: .step, stepSize: 10, gamma: 0.1))
}

@Test func multistepMatchesPyTorch() throws {
    try check("schedule_multistep", ScheduleConfig(name: .multistep, gamma: 0.1, milestones: [5, 8]))
}

@Test func exponentialMatchesPyTorch() throws {
    try check("schedule_exponential", ScheduleConfig(name: .exponential, gamma: 0.9))
}

@Test func cosineMatchesPyTorchPastTMax() throws {
    try check("schedule_cosine", ScheduleConfig(name: .cosine, tMax: 10, etaMin: 0.001))
}

@Test func warmupRampsLinearlyThenHandsOver() throws {
    let schedule = try LearningRateSchedule(config: ScheduleConfig(name: .constant, warmup: .epochs(1)),
                                        baseLearningRate: 0.4, iterationsPerEpoch: 4, totalEpochs: 3)
    let rates = (0..<6).map { schedule.learningRate(globalIteration: $0) }
    let expected = [0.1, 0.2, 0.3, 0.4, 0.4, 0.4]
    #expect(zip(rates, expected).allSatisfy { abs($0 - $1) < 1e-12 }, "\(rates)")
}
