import CNNSpec
import Foundation
import Testing
@testable import CNNTrain

/// `reduce_on_plateau` and `one_cycle` against PyTorch's schedulers (fixtures made by
/// scripts/fixtures/make_schedule_fixtures.py into Tests/Fixtures/pytorch, read as doubles).
@Suite struct RecipeScheduleTests {
    struct Fixture {
        var config: [String: Any]
        var tensors: [String: [Double]]
    }

    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/pytorch")

    static func load(_ name: String) throws -> Fixture {
        let data = try Data(contentsOf: directory.appendingPathComponent(name + ".json"))
        let root = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let rawTensors = try #require(root["tensors"] as? [String: [String: Any]])
        var tensors: [String: [Double]] = [:]
        for (key, value) in rawTensors {
            tensors[key] = try #require(value["data"] as? [NSNumber]).map(\.doubleValue)
        }
        return Fixture(config: root["config"] as? [String: Any] ?? [:], tensors: tensors)
    }

    static func close(_ a: [Double], _ b: [Double], tolerance: Double = 1e-9) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { abs($0 - $1) <= tolerance * max(abs($1), 1e-3) }
    }

    @Test(arguments: ["plateau_min_rel", "plateau_min_abs_eps", "plateau_max_rel", "plateau_max_abs"])
    func plateauMatchesPyTorch(name: String) throws {
        let fixture = try Self.load(name)
        let c = fixture.config
        var config = ScheduleConfig(name: .reduceOnPlateau)
        config.metric = (c["mode"] as? String) == "max" ? .validationAccuracy : .validationLoss
        config.factor = try #require(c["factor"] as? Double)
        config.patience = try #require(c["patience"] as? Int)
        config.threshold = try #require(c["threshold"] as? Double)
        config.thresholdMode = try #require(PlateauThresholdMode(rawValue: c["threshold_mode"] as? String ?? ""))
        config.cooldown = try #require(c["cooldown"] as? Int)
        config.minLearningRate = try #require((c["min_lr"] as? NSNumber)?.doubleValue)
        let initial = try #require(c["initial_lr"] as? Double)
        var schedule = try LearningRateSchedule(config: config, baseLearningRate: initial, iterationsPerEpoch: 5, totalEpochs: 30)
        var rates: [Double] = []
        var reductions = 0
        for value in try #require(fixture.tensors["metrics"]) {
            if schedule.validationResult(loss: value, accuracy: value) { reductions += 1 }
            rates.append(schedule.learningRate(globalIteration: 123))
        }
        let expected = try #require(fixture.tensors["lr_after_step"])
        #expect(Self.close(rates, expected), "\(name): \(rates) vs \(expected)")
        #expect(reductions == Set(expected + [initial]).count - 1, "validationResult reports each reduction")
        #expect(Set(expected).count > 1, "the fixture must reduce at least once")
    }

    /// The plateau state survives a save/restore through resume metadata mid-sequence.
    @Test func plateauStateRoundTripsThroughResumeMetadata() throws {
        var config = ScheduleConfig(name: .reduceOnPlateau)
        config.patience = 1; config.cooldown = 1; config.factor = 0.5
        var straight = PlateauState(config: config, learningRate: 1)
        var resumed = PlateauState(config: config, learningRate: 1)
        let metrics = [1.0, 0.9, 0.95, 0.96, 0.97, 0.98, 0.99, 0.8, 0.85, 0.86]
        for value in metrics.prefix(5) { straight.step(metric: value); resumed.step(metric: value) }
        var restored = PlateauState(config: config, learningRate: 1)
        let restoredOK = restored.restore(resumed.metadata)
        #expect(restoredOK)
        #expect(restored == straight)
        for value in metrics.dropFirst(5) { straight.step(metric: value); restored.step(metric: value) }
        #expect(restored == straight)
        #expect(straight.learningRate < 1)
        var broken = PlateauState(config: config, learningRate: 1)
        let brokenOK = broken.restore(["plateau.lr": "0.5"])
        #expect(!brokenOK)
        #expect(broken == PlateauState(config: config, learningRate: 1))
    }

    @Test(arguments: ["one_cycle_sgd_cos", "one_cycle_adam_linear_three_phase", "one_cycle_rmsprop_no_momentum_cycle"])
    func oneCycleMatchesPyTorch(name: String) throws {
        let fixture = try Self.load(name)
        let c = fixture.config
        var config = ScheduleConfig(name: .oneCycle)
        let lr = try #require(c["lr"] as? Double)
        config.maxLearningRate = try #require(c["max_lr"] as? Double)
        if let value = c["pct_start"] as? Double { config.pctStart = value }
        if let value = c["anneal_strategy"] as? String { config.annealStrategy = try #require(AnnealStrategy(rawValue: value)) }
        if let value = c["div_factor"] as? Double { config.divFactor = value }
        if let value = c["final_div_factor"] as? Double { config.finalDivFactor = value }
        if let value = c["three_phase"] as? Bool { config.threePhase = value }
        if let value = c["cycle_momentum"] as? Bool { config.cycleMomentum = value }
        if let value = c["base_momentum"] as? Double { config.baseMomentum = value }
        if let value = c["max_momentum"] as? Double { config.maxMomentum = value }
        let total = try #require(c["total_steps"] as? Int)
        // An epoch length that does not divide the run: one-cycle counts iterations over the whole run.
        let schedule = try LearningRateSchedule(config: config, baseLearningRate: lr, iterationsPerEpoch: 7,
                                                totalEpochs: (total + 6) / 7, totalIterations: total)
        let rates = (0..<total).map { schedule.learningRate(globalIteration: $0) }
        #expect(Self.close(rates, try #require(fixture.tensors["lr_per_step"])), "\(name) lr: \(rates)")
        let momenta = (0..<total).map { schedule.momentum(globalIteration: $0) }
        if config.cycleMomentum {
            #expect(Self.close(momenta.map { $0 ?? .nan }, try #require(fixture.tensors["momentum_per_step"])), "\(name) momentum")
        } else {
            #expect(momenta.allSatisfy { $0 == nil })
        }
    }

    /// A phase of length 0 (PyTorch: ZeroDivisionError) is a clear error when the schedule is built.
    @Test func oneCycleWithAnEmptyPhaseIsAClearError() throws {
        var config = ScheduleConfig(name: .oneCycle)
        config.pctStart = 0.1  // 10 steps × 0.1 − 1 = 0: the first phase ends where it starts
        #expect(throws: ScheduleSetupError.self) {
            _ = try LearningRateSchedule(config: config, baseLearningRate: 0.1, iterationsPerEpoch: 10, totalEpochs: 1)
        }
        do {
            _ = try OneCycle(config: config, maxRate: 0.1, totalSteps: 10)
        } catch {
            #expect(error.message.contains("pct_start 0.1") && error.message.contains("10 iterations"))
        }
        config.pctStart = 0.3
        #expect(throws: Never.self) { _ = try OneCycle(config: config, maxRate: 0.1, totalSteps: 10) }
    }
}
