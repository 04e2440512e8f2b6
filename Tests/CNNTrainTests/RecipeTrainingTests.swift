import CNNKernels
import CNNLayers
import CNNSpec
import Foundation
import Testing
@testable import CNNTrain

/// Early stopping, reduce_on_plateau, one-cycle, clipping and label smoothing inside `Trainer`, on a
/// tiny model and small data so each run takes a moment.
@Suite(.serialized) struct RecipeTrainingTests {
    static let tinyModel = """
        name: tiny
        input: [1, 28, 28]
        layers:
          - conv: {out: 4, kernel: 3, name: conv1}
          - relu
          - maxpool: 4
          - flatten
          - linear: {out: 10, name: fc1}
        """

    /// The tiny model over 1,000 training images (10 % held out) and 200 test images, SGD lr 0.05.
    static func setup(folder: URL, epochs: Int = 4, edit: (inout RunConfig) -> Void = { _ in })
        throws -> (config: RunConfig, graph: ModelGraph, data: TrainingData) {
        let modelURL = folder.deletingLastPathComponent().appendingPathComponent(folder.lastPathComponent + "-tiny.yaml")
        try tinyModel.write(to: modelURL, atomically: true, encoding: .utf8)
        let yaml = """
            model: \(modelURL.path)
            data: {dataset: mnist, validation_split: 0.1}
            train:
              batch_size: 50
              epochs: \(epochs)
              optimizer: {name: sgd, lr: 0.05, momentum: 0.9}
              threads: 2
              backend: direct
            output: {dir: \(folder.path)}
            """
        var config = try RunConfigLoader.parse(yaml, file: "test.yaml")
        edit(&config)
        let graph = try ModelSpecLoader.load(path: modelURL.path, catalog: .standard)
        let (train, test, _) = TrainingTestSupport.smallData(train: 1000, test: 200)
        let data = try TrainingData(trainFile: train, test: test, config: config.data, seed: config.train.seed)
        return (config, graph, data)
    }

    static func trainer(folder: URL, epochs: Int = 4, resume: Bool = false,
                        edit: (inout RunConfig) -> Void = { _ in }) throws -> Trainer {
        let (config, graph, data) = try setup(folder: folder, epochs: epochs, edit: edit)
        return try Trainer(config: config, graph: graph, data: data, folder: try RunFolder(url: folder),
                           reporter: TrainingTestSupport.quiet, resume: resume)
    }

    static func validationRows(_ folder: URL) throws -> [(epoch: Int, loss: Double, accuracy: Double)] {
        let text = try String(contentsOf: folder.appendingPathComponent(RunFolder.metricsFile), encoding: .utf8)
        var rows: [(epoch: Int, loss: Double, accuracy: Double)] = []
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            guard fields.count > 4, fields[2] == "validation", let epoch = Int(fields[0]), let loss = Double(fields[3]),
                  let accuracy = Double(fields[4]) else { continue }
            rows.append((epoch, loss, accuracy))
        }
        return rows
    }

    /// patience 2 with a min_delta no loss can beat: the first validation counts as the improvement,
    /// the next two stall and stop the run after epoch 3 of 8. best.safetensors is the epoch with the
    /// lowest validation loss (epoch checkpoints tell), the test figures are its, the stop is in
    /// summary.json, and a resumed run has nothing left to do.
    @Test func earlyStoppingStopsAndTestsTheBestWeights() throws {
        let folder = TrainingTestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let edit: (inout RunConfig) -> Void = {
            $0.train.earlyStopping = EarlyStoppingConfig(metric: .validationLoss, patience: 2, minDelta: 10)
            $0.output.checkpoint.everyEpochs = 1
        }
        let summary: TrainingSummary
        do {  // the trainer (and its folder lock) ends before the resumed one opens the folder
            let trainer = try Self.trainer(folder: folder, epochs: 8, edit: edit)
            summary = try trainer.run()
            #expect(summary.epochsCompleted == 3)
            #expect(summary.iterations == 3 * 18)
            #expect(summary.stopReason?.hasPrefix("early stopping at epoch 3, iteration 54: validation_loss did not improve "
                                                  + "by more than 10.0 for 2 validations; best validation_loss") == true,
                    "\(summary.stopReason ?? "nil")")
            let json = try String(contentsOf: folder.appendingPathComponent(RunFolder.summaryFile), encoding: .utf8)
            #expect(json.contains("\"stop_reason\": \"early stopping at epoch 3"))
            let rows = try Self.validationRows(folder)
            #expect(rows.count == 3)
            let lowest = rows.firstIndex { $0.loss == rows.map(\.loss).min() }.map { rows[$0].epoch }
            let bestEpoch = try #require(summary.bestEpoch)
            #expect(bestEpoch == lowest)
            #expect(summary.testWeights == "best validation epoch \(bestEpoch)")
            let best = try SafetensorsFile.read(from: folder.appendingPathComponent("best.safetensors"))
            let epochFile = try SafetensorsFile.read(from: folder.appendingPathComponent("epoch-\(bestEpoch).safetensors"))
            #expect(best.tensors == epochFile.tensors)
            // The test figures are those of best.safetensors.
            let plan = trainer.plan
            let (_, _, data) = try Self.setup(folder: TrainingTestSupport.temporaryFolder())
            let labels = AlignedBuffer<Int32>(count: plan.batchCapacity)
            try CheckpointIO.load(into: plan.parameters, from: folder.appendingPathComponent("best.safetensors"))
            plan.parametersDidChange()
            let result = Trainer.evaluate(plan: plan, loader: data.testLoader(batchSize: 50, seed: 0, threadPool: plan.pool), labels: labels)
            #expect(abs(result.loss - (summary.testLoss ?? .nan)) < 1e-9)
            #expect(abs(result.accuracy - (summary.testAccuracy ?? .nan)) < 1e-9)
        }
        #expect(RunFolder.finishedSummary(at: folder) != nil)
        let resumed = try Self.trainer(folder: folder, epochs: 8, resume: true, edit: edit)
        let again = try resumed.run()
        #expect(again.iterations == summary.iterations && again.stopReason == summary.stopReason)
    }

    /// Watching validation accuracy, best.safetensors (and the test) follow the most accurate validation.
    @Test func earlyStoppingOnAccuracyKeepsTheMostAccurateWeights() throws {
        let folder = TrainingTestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let summary = try Self.trainer(folder: folder, epochs: 3) {
            $0.train.earlyStopping = EarlyStoppingConfig(metric: .validationAccuracy, patience: 10, minDelta: 0)
            $0.train.optimizer.learningRate = 0.2  // noisy enough that accuracy and loss disagree sometimes
        }.run()
        let rows = try Self.validationRows(folder)
        #expect(rows.count == 3)
        let mostAccurate = rows.firstIndex { $0.accuracy == rows.map(\.accuracy).max() }.map { rows[$0].epoch }
        #expect(summary.bestEpoch == mostAccurate)
        #expect(summary.stopReason == nil)
    }

    @Test func plateauAndEarlyStoppingNeedValidation() throws {
        let folder = TrainingTestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        do {
            _ = try Self.trainer(folder: folder) {
                $0.data.validationSplit = 0
                $0.train.schedule = ScheduleConfig(name: .reduceOnPlateau)
            }
            Issue.record("a plateau schedule without validation data must be refused")
        } catch let error as ScheduleSetupError {
            #expect(error.message.contains("reduce_on_plateau") && error.message.contains("no validation images"))
            #expect(error.hint?.contains("data.validation_split") == true)
        }
        #expect(throws: ScheduleSetupError.self) {
            _ = try Self.trainer(folder: folder) {
                $0.train.evalEveryEpoch = false
                $0.train.earlyStopping = EarlyStoppingConfig()
            }
        }
    }

    /// reduce_on_plateau validating every 6 iterations with patience 0 and a threshold no loss meets (a
    /// 90 % improvement, whatever the data: real MNIST or the synthetic digits) reduces at every
    /// validation after the first; a run
    /// interrupted between reductions and resumed ends bit-identical (plateau state is resume state),
    /// with RMSprop (its square_avg/momentum/grad_avg buffers are resume state too).
    @Test func plateauRunResumesExactly() throws {
        let straight = TrainingTestSupport.temporaryFolder(), interrupted = TrainingTestSupport.temporaryFolder()
        defer { for folder in [straight, interrupted] { try? FileManager.default.removeItem(at: folder) } }
        let edit: (inout RunConfig) -> Void = {
            var schedule = ScheduleConfig(name: .reduceOnPlateau)
            schedule.patience = 0; schedule.factor = 0.5; schedule.threshold = 0.9
            $0.train.schedule = schedule
            $0.train.evalEveryIterations = 6
            var optimizer = OptimizerConfig(name: .rmsprop, learningRate: 0.003)
            optimizer.momentum = 0.5; optimizer.centered = true
            $0.train.optimizer = optimizer
            $0.train.checkpointEvery = .iterations(5)
        }
        _ = try Self.trainer(folder: straight, epochs: 2, edit: edit).run()
        var calls = 0
        let stopped = try Self.trainer(folder: interrupted, epochs: 2, edit: edit).run(shouldStop: { calls += 1; return calls == 21 })
        #expect(stopped.interrupted)
        _ = try Self.trainer(folder: interrupted, epochs: 2, resume: true, edit: edit).run()
        let rates = Set(try String(contentsOf: straight.appendingPathComponent(RunFolder.metricsFile), encoding: .utf8)
            .split(separator: "\n").dropFirst().map { $0.split(separator: ",")[5] })
        #expect(rates.count > 1, "the plateau schedule must have reduced the rate: \(rates)")
        let a = try SafetensorsFile.read(from: straight.appendingPathComponent("last.safetensors"))
        let b = try SafetensorsFile.read(from: interrupted.appendingPathComponent("last.safetensors"))
        #expect(a.tensors == b.tensors)
        let columns = { (folder: URL) in
            try String(contentsOf: folder.appendingPathComponent(RunFolder.metricsFile), encoding: .utf8)
                .split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).prefix(6).joined(separator: ",") }
        }
        #expect(try columns(straight) == (try columns(interrupted)))
    }

    /// clip_grad_norm 1e-6 wired between backward and the step: SGD with momentum 0.9 then moves each
    /// weight by at most lr · 1e-6 · Σ 0.9ᵏ < lr · 1e-5 per step. Label smoothing changes the training
    /// loss (the smoothed target's cross-entropy is larger at the start) but not the evaluation's.
    @Test func clippingAndLabelSmoothingReachTheTrainingStep() throws {
        let folder = TrainingTestSupport.temporaryFolder(), plain = TrainingTestSupport.temporaryFolder()
        defer { for url in [folder, plain] { try? FileManager.default.removeItem(at: url) } }
        let clipped = try Self.trainer(folder: folder, epochs: 1) { $0.train.clipGradNorm = 1e-6; $0.train.clipGradValue = 0.5 }
        let before = CheckpointIO.tensors(of: clipped.plan.parameters)
        let summary = try clipped.run()
        let after = try SafetensorsFile.read(from: folder.appendingPathComponent("last.safetensors")).tensors
        var largest: Float = 0
        for (name, tensor) in before { for (x, y) in zip(tensor.data, after[name]?.data ?? []) { largest = max(largest, abs(x - y)) } }
        #expect(largest > 0 && largest < Float(summary.iterations) * 0.05 * 1e-5, "largest change \(largest)")

        let smoothed = try Self.trainer(folder: plain, epochs: 1) { $0.train.labelSmoothing = 0.3; $0.train.evalEveryEpoch = false }
        let plan = smoothed.plan
        #expect(plan.labelSmoothing == 0.3)
        let labels = AlignedBuffer<Int32>(count: 50)
        let (_, _, data) = try Self.setup(folder: TrainingTestSupport.temporaryFolder())
        let loader = data.trainLoader(batchSize: 50, seed: 0, threadPool: plan.pool)
        let count = loader.fill(batch: 0, images: plan.input, labels: labels.pointer)
        let trainLoss = plan.trainStep(batch: count, labels: labels.pointer).loss
        let expected = SoftmaxCrossEntropy.forwardBackward(batch: count, classes: 10, logits: plan.logits, labels: labels.pointer,
                                                           gradLogits: nil, labelSmoothing: 0.3).loss
        let evaluationLoss = plan.evaluate(batch: count, labels: labels.pointer).loss
        let plainLoss = SoftmaxCrossEntropy.forwardBackward(batch: count, classes: 10, logits: plan.logits, labels: labels.pointer,
                                                            gradLogits: nil).loss
        #expect(trainLoss == expected, "training uses the smoothed loss")
        #expect(evaluationLoss == plainLoss && evaluationLoss != trainLoss, "evaluation reports plain cross-entropy")
    }

    /// One-cycle's momentum reaches SGD even when the config's momentum is 0 (PyTorch's OneCycleLR sets
    /// the optimizer's momentum every step): the update equals SGDUpdate with that momentum.
    @Test func oneCycleMomentumDrivesSGD() throws {
        let folder = TrainingTestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let (config, graph, _) = try Self.setup(folder: folder)
        let plan = try ExecutionPlan(graph: graph, batchCapacity: 4, backend: .fixed(.direct), threads: 1, seed: 3)
        let store = plan.parameters
        let optimizer = Optimizer(settings: OptimizerSettings(OptimizerConfig(name: .sgd, learningRate: 0.1)), parameters: store,
                                  varyingMomentum: true)
        #expect(config.train.optimizer.name == .sgd)
        let count = store.trainableCount
        let reference = [Float](UnsafeBufferPointer(start: store.values.pointer, count: count))
        var expected = reference, buffer = [Float](repeating: 0, count: count)
        for (step, momentum) in [Float(0.95), 0.9].enumerated() {
            for i in 0..<count { store.gradients.pointer[i] = Float(i % 7) * 0.01 - 0.03 }
            let gradient = [Float](UnsafeBufferPointer(start: store.gradients.pointer, count: count))
            optimizer.step(learningRate: 0.1, momentum: momentum)
            expected.withUnsafeMutableBufferPointer { p in
                buffer.withUnsafeMutableBufferPointer { b in
                    SGDUpdate.step(count: count, parameter: p.baseAddress!, gradient: gradient, momentumBuffer: b.baseAddress!,
                                   isFirstStep: step == 0, learningRate: 0.1, momentum: momentum, dampening: 0, nesterov: false,
                                   weightDecay: 0)
                }
            }
        }
        #expect(Array(UnsafeBufferPointer(start: store.values.pointer, count: count)) == expected)
        #expect(expected != reference)
    }
}
