import CNNKernels
import CNNSpec
import Foundation

/// Trains a compiled plan on a run config's data and recipe, evaluating, checkpointing and logging
/// into a run folder.
public final class Trainer {
    public let config: RunConfig
    public let plan: ExecutionPlan
    public let optimizer: Optimizer
    public let data: TrainingData
    public let folder: RunFolder
    public private(set) var progress: TrainingProgress

    private let reporter: ProgressReporter
    private let metrics: MetricsLog
    private let trainLoader: BatchLoader
    private let validationLoader: BatchLoader?
    private let testLoader: BatchLoader
    private let labels: AlignedBuffer<Int32>
    private let schedule: LearningRateSchedule
    private let totalEpochs: Int
    private let totalIterations: Int?
    private let startTime = DispatchTime.now().uptimeNanoseconds

    /// Builds the plan for `graph` and the loaders for `data`. With `resumeFrom`, restores parameters,
    /// optimizer state and progress from a run folder's `resume.safetensors`.
    public init(config: RunConfig, graph: ModelGraph, data: TrainingData, folder: RunFolder,
                reporter: ProgressReporter, resume: Bool = false) throws {
        self.config = config; self.data = data; self.folder = folder; self.reporter = reporter
        let train = config.train
        let capacity = max(train.batchSize, train.evalBatchSize)
        plan = try ExecutionPlan(graph: graph, batchCapacity: capacity, backend: BackendRequest(train.backend),
                                 perLayerBackends: Dictionary(train.layerBackends.map { ($0.layer, BackendRequest($0.backend)) },
                                                              uniquingKeysWith: { _, last in last }),
                                 threads: train.threads, seed: UInt64(truncatingIfNeeded: train.seed), fuse: train.fuse)
        optimizer = Optimizer(settings: OptimizerSettings(train.optimizer), parameters: plan.parameters)
        trainLoader = data.trainLoader(batchSize: train.batchSize, seed: train.seed, threadPool: plan.pool)
        validationLoader = data.validationLoader(batchSize: train.evalBatchSize, seed: train.seed, threadPool: plan.pool)
        testLoader = data.testLoader(batchSize: train.evalBatchSize, seed: train.seed, threadPool: plan.pool)
        labels = AlignedBuffer(count: capacity)
        let perEpoch = max(1, trainLoader.batchCount)
        switch train.length {
        case .epochs(let epochs):
            totalEpochs = epochs
            totalIterations = nil
        case .iterations(let iterations):
            totalEpochs = (iterations + perEpoch - 1) / perEpoch
            totalIterations = iterations
        }
        schedule = LearningRateSchedule(config: train.schedule, baseLearningRate: train.optimizer.learningRate,
                                        iterationsPerEpoch: perEpoch, totalEpochs: totalEpochs)
        metrics = MetricsLog(folder: folder)
        progress = TrainingProgress()
        if resume { try restore() }
    }

    private var elapsed: Double {
        progress.elapsedSeconds + Double(DispatchTime.now().uptimeNanoseconds - startTime) / 1e9
    }

    private func say(_ line: String) {
        reporter.line(line)
        folder.log(line)
    }

    /// Runs to the configured length (or until `shouldStop` turns true), then evaluates on the test set.
    public func run(shouldStop: () -> Bool = { false }) throws -> TrainingSummary {
        for selection in plan.backendSelections { say("backend " + selection.summary) }
        let trainCount = trainLoader.sampleCount
        say("training on \(trainCount) images, validating on \(validationLoader?.sampleCount ?? 0), testing on \(testLoader.sampleCount); "
            + "\(trainLoader.batchCount) batches of \(config.train.batchSize) per epoch, \(totalEpochs) epochs"
            + (totalIterations.map { " (\($0) iterations)" } ?? ""))
        var dataNanoseconds: UInt64 = 0
        var computeNanoseconds: UInt64 = 0
        var imagesSeen = 0
        var interrupted = false
        var checkpoints: [String] = []
        let startEpoch = progress.epoch
        epochs: for epoch in startEpoch..<totalEpochs {
            trainLoader.startEpoch(epoch)
            let epochStart = DispatchTime.now().uptimeNanoseconds
            var lossSum = 0.0, correct = 0, seen = 0
            let firstBatch = epoch == startEpoch ? progress.batch : 0
            for batch in firstBatch..<trainLoader.batchCount {
                if let total = totalIterations, progress.iteration >= total { break }
                let t0 = DispatchTime.now().uptimeNanoseconds
                let count = trainLoader.fill(batch: batch, images: plan.input, labels: labels.pointer)
                let t1 = DispatchTime.now().uptimeNanoseconds
                let learningRate = schedule.learningRate(globalIteration: progress.iteration)
                let (loss, batchCorrect) = plan.trainStep(batch: count, labels: labels.pointer)
                optimizer.step(learningRate: Float(learningRate))
                plan.parametersDidChange()
                let t2 = DispatchTime.now().uptimeNanoseconds
                dataNanoseconds += t1 - t0
                computeNanoseconds += t2 - t1
                guard loss.isFinite else {
                    throw TrainingError.diverged(iteration: progress.iteration + 1, learningRate: learningRate)
                }
                lossSum += Double(loss) * Double(count)
                correct += batchCorrect
                seen += count
                imagesSeen += count
                progress.iteration += 1
                progress.batch = batch + 1
                let seconds = Double(DispatchTime.now().uptimeNanoseconds - epochStart) / 1e9
                let remainingBatches = remainingIterations(epoch: epoch, batch: batch + 1)
                reporter.update(epoch: epoch + 1, epochs: totalEpochs, step: batch + 1, steps: trainLoader.batchCount,
                                imagesPerSecond: Double(seen) / max(seconds, 1e-9), runningLoss: lossSum / Double(seen),
                                runningAccuracy: Double(correct) / Double(seen),
                                etaSeconds: seconds / Double(max(1, batch + 1 - firstBatch)) * Double(remainingBatches))
                if let every = config.train.evalEveryIterations, progress.iteration % every == 0, let validationLoader {
                    let result = evaluate(validationLoader)
                    try metrics.append(MetricsRow(epoch: epoch + 1, iteration: progress.iteration, split: "validation",
                                                  loss: result.loss, accuracy: result.accuracy,
                                                  learningRate: learningRate, seconds: elapsed))
                    say(String(format: "  iteration %d: validation loss %.4f, accuracy %.2f%%", progress.iteration,
                               result.loss, result.accuracy * 100))
                }
                if shouldStop() {
                    interrupted = true
                    break epochs
                }
            }
            let epochSeconds = Double(DispatchTime.now().uptimeNanoseconds - epochStart) / 1e9
            try endEpoch(epoch, lossSum: lossSum, correct: correct, seen: seen, seconds: epochSeconds, checkpoints: &checkpoints)
            progress.epoch = epoch + 1
            progress.batch = 0
            try saveResumeState()
            if let total = totalIterations, progress.iteration >= total { break }
        }
        if interrupted {
            try saveResumeState()
            try saveCheckpoint("last.safetensors", into: &checkpoints)
            say("interrupted: state saved; continue with `cnnspec run --resume \(folder.url.path)`")
        }
        var summary = TrainingSummary(
            testLoss: nil, testAccuracy: nil, bestEpoch: progress.bestEpoch,
            bestValidationLoss: progress.bestValidationLoss.isFinite ? progress.bestValidationLoss : nil,
            epochsCompleted: progress.epoch, iterations: progress.iteration, interrupted: interrupted,
            testWeights: "last", imagesPerSecond: Double(imagesSeen) / max(Double(dataNanoseconds + computeNanoseconds) / 1e9, 1e-9),
            dataShare: Double(dataNanoseconds) / max(Double(dataNanoseconds + computeNanoseconds), 1),
            checkpoints: checkpoints)
        if !interrupted {
            if config.output.checkpoint.last { try saveCheckpoint("last.safetensors", into: &summary.checkpoints) }
            let best = folder.file("best.safetensors")
            if config.output.checkpoint.best, let bestEpoch = progress.bestEpoch,
               FileManager.default.fileExists(atPath: best.path) {
                try CheckpointIO.load(into: plan.parameters, from: best)
                plan.parametersDidChange()
                summary.testWeights = "best validation epoch \(bestEpoch)"
            }
            let test = evaluate(testLoader)
            summary.testLoss = test.loss
            summary.testAccuracy = test.accuracy
            try metrics.append(MetricsRow(epoch: progress.epoch, iteration: progress.iteration, split: "test", loss: test.loss,
                                          accuracy: test.accuracy, learningRate: schedule.learningRate(globalIteration: max(0, progress.iteration - 1)),
                                          seconds: elapsed))
        }
        try writeSummary(summary)
        return summary
    }

    private func remainingIterations(epoch: Int, batch: Int) -> Int {
        let perEpoch = trainLoader.batchCount
        let done = epoch * perEpoch + batch
        let total = totalIterations ?? totalEpochs * perEpoch
        return max(0, total - done)
    }

    private func endEpoch(_ epoch: Int, lossSum: Double, correct: Int, seen: Int, seconds: Double,
                          checkpoints: inout [String]) throws {
        guard seen > 0 else { return }
        let learningRate = schedule.learningRate(globalIteration: max(0, progress.iteration - 1))
        let trainLoss = lossSum / Double(seen), trainAccuracy = Double(correct) / Double(seen)
        try metrics.append(MetricsRow(epoch: epoch + 1, iteration: progress.iteration, split: "train", loss: trainLoss,
                                      accuracy: trainAccuracy, learningRate: learningRate, seconds: elapsed,
                                      imagesPerSecond: Double(seen) / seconds))
        var line = String(format: "epoch %d/%d  train loss %.4f acc %.2f%%", epoch + 1, totalEpochs, trainLoss, trainAccuracy * 100)
        if config.train.evalEveryEpoch, let validationLoader {
            let result = evaluate(validationLoader)
            try metrics.append(MetricsRow(epoch: epoch + 1, iteration: progress.iteration, split: "validation",
                                          loss: result.loss, accuracy: result.accuracy, learningRate: learningRate, seconds: elapsed))
            line += String(format: "  |  valid loss %.4f acc %.2f%%", result.loss, result.accuracy * 100)
            if result.loss < progress.bestValidationLoss {
                progress.bestValidationLoss = result.loss
                progress.bestEpoch = epoch + 1
                line += " *"
                if config.output.checkpoint.best { try saveCheckpoint("best.safetensors", into: &checkpoints) }
            }
        }
        line += String(format: "  |  lr %g  |  %.1fs, %.0f img/s", learningRate, seconds, Double(seen) / seconds)
        say(line)
        let every = config.output.checkpoint.everyEpochs
        if every > 0 && (epoch + 1) % every == 0 { try saveCheckpoint("epoch-\(epoch + 1).safetensors", into: &checkpoints) }
    }

    /// Mean loss and accuracy of the model (inference mode) over every batch of `loader`.
    public func evaluate(_ loader: BatchLoader) -> (loss: Double, accuracy: Double) {
        Self.evaluate(plan: plan, loader: loader, labels: labels)
    }

    /// Mean loss and accuracy of `plan` (inference mode) over every batch of `loader`.
    public static func evaluate(plan: ExecutionPlan, loader: BatchLoader, labels: AlignedBuffer<Int32>) -> (loss: Double, accuracy: Double) {
        var lossSum = 0.0, correct = 0, seen = 0
        for batch in 0..<loader.batchCount {
            let count = loader.fill(batch: batch, images: plan.input, labels: labels.pointer)
            let (loss, batchCorrect) = plan.evaluate(batch: count, labels: labels.pointer)
            lossSum += Double(loss) * Double(count)
            correct += batchCorrect
            seen += count
        }
        return (lossSum / Double(max(seen, 1)), Double(correct) / Double(max(seen, 1)))
    }

    private var checkpointMetadata: [String: String] {
        ["config_hash": config.hash, "seed": "\(config.train.seed)", "cnnspec_version": CNNSpecVersion.string,
         "model": config.modelPath, "config_name": config.name]
    }

    private func saveCheckpoint(_ name: String, into list: inout [String]) throws {
        let url = folder.file(name)
        try CheckpointIO.save(plan.parameters, metadata: checkpointMetadata, to: url)
        if !list.contains(url.path) { list.append(url.path) }
    }

    private func saveResumeState() throws {
        var extra: [String: SafetensorsFile.Tensor] = [:]
        extra["optimizer.state1"] = SafetensorsFile.Tensor(shape: [optimizer.firstState.count], data: Array(optimizer.firstState.buffer))
        extra["optimizer.state2"] = SafetensorsFile.Tensor(shape: [optimizer.secondState.count], data: Array(optimizer.secondState.buffer))
        var snapshot = progress
        snapshot.elapsedSeconds = elapsed
        var metadata = checkpointMetadata.merging(snapshot.metadata) { a, _ in a }
        metadata["optimizer_steps"] = "\(optimizer.stepCount)"
        try CheckpointIO.save(plan.parameters, extra: extra, metadata: metadata, to: folder.file(RunFolder.resumeFile))
    }

    private func restore() throws {
        let url = folder.file(RunFolder.resumeFile)
        let contents = try CheckpointIO.load(into: plan.parameters, from: url)
        guard let restored = TrainingProgress(metadata: contents.metadata),
              let steps = contents.metadata["optimizer_steps"].flatMap(Int.init) else {
            throw CheckpointError(path: url.path, problem: "its metadata has no training progress (epoch, batch, iteration)")
        }
        for (name, buffer) in [("optimizer.state1", optimizer.firstState), ("optimizer.state2", optimizer.secondState)] {
            guard let tensor = contents.tensors[name], tensor.data.count == buffer.count else {
                throw CheckpointError(path: url.path, problem: "optimizer state '\(name)' is missing or has the wrong size")
            }
            buffer.pointer.update(from: tensor.data, count: buffer.count)
        }
        optimizer.stepCount = steps
        progress = restored
        plan.parametersDidChange()
        say("resumed at epoch \(restored.epoch + 1), batch \(restored.batch), iteration \(restored.iteration)")
    }

    private func writeSummary(_ summary: TrainingSummary) throws {
        var fields: [String] = []
        func add(_ key: String, _ value: String) { fields.append("  \"\(key)\": \(value)") }
        func number(_ value: Double?) -> String { value.map { String(format: "%.6f", $0) } ?? "null" }
        add("config", JSONText.quoted(config.name))
        add("config_hash", JSONText.quoted(config.hash))
        add("test_loss", number(summary.testLoss))
        add("test_accuracy", number(summary.testAccuracy))
        add("test_weights", JSONText.quoted(summary.testWeights))
        add("best_epoch", summary.bestEpoch.map(String.init) ?? "null")
        add("best_validation_loss", number(summary.bestValidationLoss))
        add("epochs_completed", "\(summary.epochsCompleted)")
        add("iterations", "\(summary.iterations)")
        add("interrupted", "\(summary.interrupted)")
        add("train_images_per_second", String(format: "%.1f", summary.imagesPerSecond))
        add("data_pipeline_share", String(format: "%.4f", summary.dataShare))
        add("seconds", String(format: "%.2f", elapsed))
        add("backends", "{" + plan.backendSelections.map { "\(JSONText.quoted($0.layer)): \"\($0.chosen.rawValue)\"" }
            .joined(separator: ", ") + "}")
        try folder.write("{\n" + fields.joined(separator: ",\n") + "\n}\n", to: RunFolder.summaryFile)
    }
}

/// Training problems that stop a run.
public enum TrainingError: Error, CustomStringConvertible {
    case diverged(iteration: Int, learningRate: Double)

    public var description: String {
        switch self {
        case .diverged(let iteration, let learningRate):
            return "the loss became NaN or infinite at iteration \(iteration) (learning rate \(learningRate)); "
                + "try a smaller train.optimizer.lr or normalised inputs"
        }
    }
}

extension BackendRequest {
    /// The request a config's backend names.
    public init(_ backend: ConvBackend) {
        switch backend {
        case .auto: self = .auto
        case .direct: self = .fixed(.direct)
        case .im2col: self = .fixed(.im2col)
        case .toeplitz: self = .fixed(.toeplitz)
        }
    }
}

extension OptimizerSettings {
    /// The settings a config's optimizer section names.
    public init(_ config: OptimizerConfig) {
        switch config.name {
        case .sgd:
            self = .sgd(momentum: Float(config.momentum), dampening: Float(config.dampening), nesterov: config.nesterov,
                        weightDecay: Float(config.weightDecay))
        case .adam, .adamw:
            self = .adam(beta1: Float(config.beta1), beta2: Float(config.beta2), epsilon: Float(config.eps),
                         weightDecay: Float(config.weightDecay), decoupled: config.name == .adamw)
        }
    }
}
