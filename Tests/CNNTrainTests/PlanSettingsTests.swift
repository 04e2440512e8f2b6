import CNNSpec
import Foundation
import Testing
@testable import CNNTrain

/// `PlanSettings`: how a config's `train.*` becomes a plan for training, timing and evaluation, checked on
/// the settings and on the plans they compile.
@Suite struct PlanSettingsTests {
    private func experiment(_ train: String, _ project: inout SessionTestProject?) throws -> Experiment {
        let made = try SessionTestProject(train: train)
        project = made
        return try Experiment(configPath: made.configPath)
    }

    @Test func trainingPlansHonourThreadsSeedBackendsFuseAndFreeze() throws {
        var project: SessionTestProject?
        defer { project?.remove() }
        let experiment = try self.experiment("threads: 2, seed: 9, fuse: false, freeze: [conv1], "
            + "layer_backends: {conv2: im2col}", &project)
        let settings = experiment.trainingPlanSettings
        #expect(settings.threads == 2 && settings.seed == 9 && !settings.fuse && settings.frozenLayers == ["conv1"])
        #expect(settings.backend == .fixed(.direct) && settings.perLayerBackends == ["conv2": .fixed(.im2col)])
        let plan = try experiment.makeTrainingPlan()
        #expect(plan.pool.threadCount == 2 && !plan.isFused && plan.batchCapacity == 8)
        #expect(plan.backendSelections.map { "\($0.layer)=\($0.chosen.rawValue)" } == ["conv1=direct", "conv2=im2col"])
        // The seed is the initial weights' seed: the same settings give the same weights, another seed others.
        let again = try settings.makePlan(for: experiment.graph)
        var reseeded = settings
        reseeded.seed = 10
        let other = try reseeded.makePlan(for: experiment.graph)
        let weights = { (plan: ExecutionPlan) in CheckpointIO.tensors(of: plan.parameters)["conv1.weight"]?.data ?? [] }
        #expect(!weights(plan).isEmpty && weights(plan) == weights(again) && weights(plan) != weights(other))
    }

    @Test func frozenLayersGetNoGradientWork() throws {
        var project: SessionTestProject?
        defer { project?.remove() }
        let experiment = try self.experiment("freeze: [conv1, conv2]", &project)
        let plan = try experiment.makeTrainingPlan()
        let labels = AlignedBuffer<Int32>(count: 8)
        for index in 0..<8 {
            labels.pointer[index] = Int32(index)
            for pixel in 0..<64 { plan.input[index * 64 + pixel] = Float((index * 7 + pixel) % 13) / 13 }
        }
        _ = plan.trainStep(batch: 8, labels: labels.pointer)
        func gradient(_ name: String) -> [Float] {
            guard let entry = plan.parameters.entry(name), let pointer = plan.parameters.gradientPointer(name) else { return [] }
            return Array(UnsafeBufferPointer(start: pointer, count: entry.count))
        }
        #expect(gradient("fc1.weight").contains { $0 != 0 }, "the classifier learns")
        #expect(!gradient("conv1.weight").isEmpty && gradient("conv1.weight").allSatisfy { $0 == 0 }, "no backward through frozen layers")
        #expect(gradient("conv2.bias").allSatisfy { $0 == 0 })
    }

    @Test func fusionFollowsTrainFuse() throws {
        var project: SessionTestProject?
        defer { project?.remove() }
        #expect(try self.experiment("", &project).makeTrainingPlan().isFused)
    }

    @Test func trainingCapacityCoversTheEvaluationBatchAndNamesTheLargerKey() throws {
        var project: SessionTestProject?
        defer { project?.remove() }
        let train = try self.experiment("eval_batch_size: 16", &project).config.train
        let training = PlanSettings.training(train)
        #expect(training.batchCapacity == 16 && training.batchKey == "train.eval_batch_size")
        let timing = PlanSettings.training(train, alsoEvaluates: false)
        #expect(timing.batchCapacity == 8 && timing.batchKey == "train.batch_size")
        var smaller = train
        smaller.evalBatchSize = 4
        #expect(PlanSettings.training(smaller).batchCapacity == 8 && PlanSettings.training(smaller).batchKey == "train.batch_size")
    }

    @Test func alayerNamedTwiceTakesTheLastBackend() {
        var train = TrainConfig()
        train.layerBackends = [LayerBackend(layer: "conv1", backend: .fixed(.direct)),
                               LayerBackend(layer: "conv1", backend: .fixed(.toeplitz))]
        #expect(PlanSettings.training(train).perLayerBackends == ["conv1": .fixed(.toeplitz)])
    }

    @Test func evaluationPlansRunAutoOnIm2colAndKeepFixedBackends() {
        var train = TrainConfig(evalBatchSize: 32, seed: 4, threads: 3, backend: .auto,
                                layerBackends: [LayerBackend(layer: "conv1", backend: .auto),
                                                LayerBackend(layer: "conv2", backend: .fixed(.direct))])
        train.freeze = ["conv1"]
        train.fuse = false
        let settings = PlanSettings.evaluation(train)
        #expect(settings.backend == .fixed(PlanSettings.evaluationBackend))
        #expect(settings.perLayerBackends == ["conv1": .fixed(PlanSettings.evaluationBackend), "conv2": .fixed(.direct)])
        #expect(settings.batchCapacity == 32 && settings.batchKey == "train.eval_batch_size")
        #expect(settings.threads == 3 && settings.seed == 4 && !settings.fuse)
        #expect(settings.frozenLayers.isEmpty, "nothing learns in an evaluation plan")
        train.backend = .fixed(.toeplitz)
        #expect(PlanSettings.evaluation(train, threads: 1).backend == .fixed(.toeplitz))
        #expect(PlanSettings.evaluation(train, threads: 1).threads == 1)
    }

    @Test func withoutAConfigEvaluationUsesTheDefaults() {
        let settings = PlanSettings.evaluation(nil, batchCapacity: 5, batchKey: "--reference")
        let defaults = TrainConfig()
        #expect(settings.batchCapacity == 5 && settings.batchKey == "--reference")
        #expect(settings.threads == defaults.threads && settings.seed == UInt64(defaults.seed) && settings.perLayerBackends.isEmpty)
        #expect(settings.backend == .fixed(PlanSettings.evaluationBackend))
    }

    @Test func theExperimentsEvaluationPlanTakesAThreadOverride() throws {
        var project: SessionTestProject?
        defer { project?.remove() }
        let experiment = try self.experiment("threads: 2, eval_batch_size: 4", &project)
        #expect(try experiment.makeEvaluationPlan().pool.threadCount == 2)
        #expect(try experiment.makeEvaluationPlan(threads: 1).pool.threadCount == 1)
        #expect(try experiment.makeEvaluationPlan(threads: 0).pool.threadCount == 2, "0 means the run's setting")
        #expect(try experiment.makeEvaluationPlan().batchCapacity == 4)
    }

    @Test func aPlanTooLargeForTheMachineNamesTheKeyToLower() throws {
        var project: SessionTestProject?
        defer { project?.remove() }
        let experiment = try self.experiment("", &project)
        var settings = experiment.trainingPlanSettings
        settings.batchCapacity = 1 << 40
        settings.batchKey = "train.eval_batch_size"
        let text = SessionTestProject.errorText { try settings.checkMemory(for: experiment.graph, model: "model.yaml") }
        #expect(text.contains("lower train.eval_batch_size"), "\(text)")
    }
}
