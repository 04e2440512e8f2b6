import CNNKernels
import CNNSpec
import Foundation

/// Trains a compiled plan on a run config's data and recipe, evaluating, checkpointing and logging
/// into a run folder.
public final class Trainer {
    public let config: RunConfig
    public let plan: ExecutionPlan
    /// The optimizer step with `train.freeze` and clipping.
    private let update: ParameterUpdate
    public var optimizer: Optimizer { update.optimizer }
    public let data: TrainingData
    public let folder: RunFolder
    public private(set) var progress: TrainingProgress

    private let reporter: ProgressReporter
    private let metrics: MetricsLog
    private let trainLoader: BatchLoader
    private let validationLoader: BatchLoader?
    private let testLoader: BatchLoader
    private let labels: AlignedBuffer<Int32>
    private var schedule: LearningRateSchedule
    /// `train.early_stopping`'s state; nil when the config has none.
    private var earlyStopping: EarlyStopping?
    private let totalEpochs: Int
    private let totalIterations: Int?
    private let startTime = DispatchTime.now().uptimeNanoseconds
    /// What `cnnspec predict` needs, stored in every checkpoint's metadata.
    private let predictionMetadata: [String: String]
    /// The ranks of a data-parallel run (nil: one process) and what its steps need.
    public let world: DistributedWorld?
    private let parallel: ParallelStep?

    /// Builds the plan for `graph` and the loaders for `data`. With `resumeFrom`, restores parameters,
    /// optimizer state and progress from a run folder's `resume.safetensors`.
    /// In a data-parallel run (`world`), every rank builds the same plan and takes rank 0's parameters
    /// (and, resuming, rank 0's state, which `TrainingSession` hands to every rank).
    public init(config: RunConfig, graph: ModelGraph, data: TrainingData, folder: RunFolder,
                reporter: ProgressReporter, resume: Bool = false, world: DistributedWorld? = nil) throws {
        self.config = config; self.data = data; self.folder = folder; self.reporter = reporter; self.world = world
        let train = config.train
        var settings = PlanSettings.training(train)
        // Each rank's dropout draws its own masks (its parameters are rank 0's, broadcast below).
        if let world { settings.seed = settings.seed &+ UInt64(world.rank) &* ParallelStep.rankSeedStride }
        let capacity = settings.batchCapacity
        plan = try settings.makePlan(for: graph)
        update = try ParameterUpdate(train: train, plan: plan,
                                     schedulesMomentum: train.schedule.name == .oneCycle && train.schedule.cycleMomentum)
        if let initialization = train.initialization, !resume {
            let outcome = try InitialWeightsLoader.load(initialization, into: plan.parameters)
            plan.parametersDidChange()
            for line in outcome.lines(file: initialization.checkpoint) { reporter.line(line); folder.log(line) }
        }
        if !update.frozen.isEmpty { reporter.line("frozen: \(update.frozen.tensorNames.joined(separator: ", "))") }
        predictionMetadata = PredictionInfo(config: config, data: data).metadata
        try? PredictionInfo.writeClassNames(data.classNames, into: folder.url)
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
        schedule = try LearningRateSchedule(config: train.schedule, baseLearningRate: train.optimizer.learningRate,
                                            iterationsPerEpoch: perEpoch, totalEpochs: totalEpochs, totalIterations: totalIterations)
        try train.checkValidationNeeds(validationImages: validationLoader?.sampleCount ?? 0)
        earlyStopping = train.earlyStopping.map(EarlyStopping.init)
        metrics = MetricsLog(folder: folder)
        progress = TrainingProgress()
        if let world {
            parallel = ParallelStep(world: world, plan: plan, bucketBytes: Int(train.allreduceBucketMB * 1_048_576))
        } else {
            parallel = nil
        }
        if resume { try restore() }
        if let world {
            // Every rank starts from rank 0's weights and running statistics, whatever its seed drew.
            try world.transport.broadcast(plan.parameters.values.pointer, count: plan.parameters.values.count)
            try world.transport.broadcast(plan.parameters.buffers.pointer, count: plan.parameters.buffers.count)
            plan.parametersDidChange()
        }
    }

    /// Ends the reducer's thread (a data-parallel run); the trainer is done.
    public func close() { parallel?.reducer.stop() }

    /// Data and compute time of this run's training steps (the all-reduce's share is against it).
    private var stepNanoseconds: UInt64 = 0

    private var elapsed: Double {
        progress.elapsedSeconds + Double(DispatchTime.now().uptimeNanoseconds - startTime) / 1e9
    }

    private func say(_ line: String) {
        reporter.line(line)
        folder.log(line)
    }

    /// Whether this process writes the run's files (a single process, or rank 0 of a data-parallel run).
    private var isWriter: Bool { world?.isWriter ?? true }

    /// A loss above this multiple of the first batch's loss stops the run as diverged (as does a NaN or
    /// infinite loss). Cross-entropy starts near ln(classes) (2.3 for ten); a run that is learning never
    /// climbs four orders of magnitude above its start, while a too-large learning rate gets there within
    /// a few steps and then trains nothing, which used to finish with exit 0 at chance accuracy.
    public static let explosionFactor = 1e4

    /// Runs to the configured length (or until `shouldStop` turns true), then evaluates on the test set.
    /// Resume state is saved at every epoch end, every `train.checkpoint_every` and on a stop; a loss that
    /// diverges stops the run with `TrainingError.diverged` after writing summary.json with the reason,
    /// leaving the last good resume state and checkpoints as they were.
    public func run(shouldStop: () -> Bool = { false }) throws -> TrainingSummary {
        say(plan.kernelsLine)
        if let world, let parallel {
            say(world.line(threads: plan.pool.threadCount))
            say("all-reduce: \(English.count(parallel.reducer.buckets.count, "bucket")) of gradients (train.allreduce_bucket_mb "
                + String(format: "%g", config.train.allreduceBucketMB) + "), fixed-order ring sum, "
                + (parallel.reducer.overlapsBackward ? "overlapped with backward" : "after backward (no MPI thread support)"))
        }
        for selection in plan.backendSelections { say("backend " + selection.summary) }
        let trainCount = trainLoader.sampleCount
        say("training on \(trainCount) images, validating on \(validationLoader?.sampleCount ?? 0), testing on \(testLoader.sampleCount); "
            + "\(English.count(trainLoader.batchCount, "batch", "batches")) of \(config.train.batchSize) per epoch, "
            + English.count(totalEpochs, "epoch") + (totalIterations.map { " (\(English.count($0, "iteration")))" } ?? ""))
        if config.output.tensorboard && metrics.tensorboard == nil && isWriter {
            metrics.tensorboard = try TensorBoardWriter(folder: folder.url, resumedAt: progress.iteration > 0 ? progress.iteration : nil)
        }
        let lastIteration = plannedIterations
        let logInterval = MetricsCadence.interval(logEvery: config.train.logEvery, totalIterations: lastIteration)
        var windowStart = DispatchTime.now().uptimeNanoseconds
        var windowSeenNow = 0
        var dataNanoseconds: UInt64 = 0
        var computeNanoseconds: UInt64 = 0
        var imagesSeen = 0
        var interrupted = false
        var checkpoints: [String] = []
        var lastSave = DispatchTime.now().uptimeNanoseconds
        let startEpoch = progress.epoch
        // A run resumed after early stopping has nothing left to train.
        var stoppedEarly = earlyStopping?.hasStopped ?? false
        // A resumed run whose length was shortened (`--set train.iterations=…`) may already be past the end.
        epochs: for epoch in startEpoch..<max(startEpoch, totalEpochs) where !stoppedEarly {
            trainLoader.startEpoch(epoch)
            let epochStart = DispatchTime.now().uptimeNanoseconds
            let resumingThisEpoch = epoch == startEpoch
            var lossSum = resumingThisEpoch ? progress.epochLossSum : 0.0
            var correct = resumingThisEpoch ? progress.epochCorrect : 0
            var seen = resumingThisEpoch ? progress.epochSeen : 0
            let seenBefore = seen
            let firstBatch = resumingThisEpoch ? progress.batch : 0
            for batch in firstBatch..<trainLoader.batchCount {
                if let total = totalIterations, progress.iteration >= total { break }
                let t0 = DispatchTime.now().uptimeNanoseconds
                let count: Int, loss: Float, batchCorrect: Int, t1: UInt64
                var stopRequested = false
                let learningRate = schedule.learningRate(globalIteration: progress.iteration)
                if let parallel {
                    // This rank's shard of the global batch; the loss, accuracy and stop request of the whole batch.
                    count = trainLoader.samples(inBatch: batch)
                    let shard = BatchShard.positions(batchCount: count, rank: parallel.world.rank, size: parallel.world.size)
                    trainLoader.fill(batch: batch, positions: shard, images: plan.input, labels: labels.pointer)
                    t1 = DispatchTime.now().uptimeNanoseconds
                    let step = try parallel.train(shard: shard.count, globalBatch: count, labels: labels.pointer,
                                                  stop: shouldStop())
                    (loss, batchCorrect, stopRequested) = (step.loss, step.correct, step.stop)
                } else {
                    count = trainLoader.fill(batch: batch, images: plan.input, labels: labels.pointer)
                    t1 = DispatchTime.now().uptimeNanoseconds
                    (loss, batchCorrect) = plan.trainStep(batch: count, labels: labels.pointer)
                }
                if let problem = divergence(loss: Double(loss)) {
                    try stopDiverged(problem, iteration: progress.iteration + 1, learningRate: learningRate,
                                     checkpoints: checkpoints)
                }
                update.step(learningRate: learningRate, momentum: schedule.momentum(globalIteration: progress.iteration))
                let t2 = DispatchTime.now().uptimeNanoseconds
                dataNanoseconds += t1 - t0
                computeNanoseconds += t2 - t1
                if progress.firstLoss == nil { progress.firstLoss = Double(loss) }
                lossSum += Double(loss) * Double(count)
                correct += batchCorrect
                seen += count
                imagesSeen += count
                progress.iteration += 1
                progress.batch = batch + 1
                let seconds = Double(DispatchTime.now().uptimeNanoseconds - epochStart) / 1e9
                let remainingBatches = remainingIterations(epoch: epoch, batch: batch + 1)
                reporter.update(epoch: epoch + 1, epochs: totalEpochs, step: batch + 1, steps: trainLoader.batchCount,
                                imagesPerSecond: Double(seen - seenBefore) / max(seconds, 1e-9), runningLoss: lossSum / Double(seen),
                                runningAccuracy: Double(correct) / Double(seen),
                                etaSeconds: seconds / Double(max(1, batch + 1 - firstBatch)) * Double(remainingBatches))
                let endsEpoch = batch + 1 == trainLoader.batchCount || progress.iteration == totalIterations
                progress.windowLossSum += Double(loss) * Double(count)
                progress.windowCorrect += batchCorrect
                progress.windowSeen += count
                windowSeenNow += count
                if progress.iteration % logInterval == 0 || progress.iteration == lastIteration {
                    try logTrainingWindow(epoch: epoch, learningRate: learningRate, start: &windowStart, seenNow: &windowSeenNow)
                }
                // An epoch's last iteration is evaluated by `endEpoch` when `eval_every_epoch` is on: one row, not two.
                if let every = config.train.evalEveryIterations, progress.iteration % every == 0, let validationLoader,
                   !(endsEpoch && config.train.evalEveryEpoch) {
                    let result = try evaluate(validationLoader)
                    try metrics.append(MetricsRow(epoch: epoch + 1, iteration: progress.iteration, split: "validation",
                                                  loss: result.loss, accuracy: result.accuracy,
                                                  learningRate: learningRate, seconds: elapsed, epochsTrained: epochsTrained))
                    let outcome = try afterValidation(result, epoch: epoch + 1, checkpoints: &checkpoints)
                    say(String(format: "  iteration %d: validation loss %.4f, accuracy %.2f%%", progress.iteration,
                               result.loss, result.accuracy * 100) + outcome.note)
                    stoppedEarly = outcome.stop
                }
                progress.epochLossSum = lossSum
                progress.epochCorrect = correct
                progress.epochSeen = seen
                // A data-parallel run stops when any rank was asked to, at the same step on every rank.
                if parallel == nil ? shouldStop() : stopRequested {
                    interrupted = true
                    break epochs
                }
                if stoppedEarly { break }
                if !endsEpoch && checkpointDue(lastSave: lastSave) {
                    try saveResumeState()
                    lastSave = DispatchTime.now().uptimeNanoseconds
                }
            }
            let epochSeconds = Double(DispatchTime.now().uptimeNanoseconds - epochStart) / 1e9
            if try endEpoch(epoch, lossSum: lossSum, correct: correct, seen: seen, seenNow: seen - seenBefore,
                            seconds: epochSeconds, checkpoints: &checkpoints) {
                stoppedEarly = true
            }
            progress.epoch = epoch + 1
            progress.batch = 0
            progress.epochLossSum = 0
            progress.epochCorrect = 0
            progress.epochSeen = 0
            try saveResumeState()
            lastSave = DispatchTime.now().uptimeNanoseconds
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
        summary.stopReason = earlyStopping?.stopReason
        stepNanoseconds = dataNanoseconds + computeNanoseconds
        if let line = parallel?.costLine(stepNanoseconds: stepNanoseconds) { say(line) }
        if let reason = summary.stopReason, !interrupted { say("stopped: " + reason) }
        if !interrupted {
            if config.output.checkpoint.last { try saveCheckpoint("last.safetensors", into: &summary.checkpoints) }
            let best = folder.file("best.safetensors")
            var testsBest = config.output.checkpoint.best && progress.bestEpoch != nil && FileManager.default.fileExists(atPath: best.path)
            // Rank 0 holds the checkpoints: its decision and its best weights go to every rank.
            if let world { testsBest = try world.transport.broadcast(bytes: [testsBest ? 1 : 0]) == [1] }
            if testsBest, let bestEpoch = progress.bestEpoch {
                if isWriter { try CheckpointIO.load(into: plan.parameters, from: best) }
                if let world {
                    try world.transport.broadcast(plan.parameters.values.pointer, count: plan.parameters.values.count)
                    try world.transport.broadcast(plan.parameters.buffers.pointer, count: plan.parameters.buffers.count)
                }
                plan.parametersDidChange()
                summary.testWeights = "best validation epoch \(bestEpoch)"
            }
            let test = try evaluate(testLoader)
            summary.testLoss = test.loss
            summary.testAccuracy = test.accuracy
            try metrics.append(MetricsRow(epoch: progress.epoch, iteration: progress.iteration, split: "test", loss: test.loss,
                                          accuracy: test.accuracy, learningRate: schedule.learningRate(globalIteration: max(0, progress.iteration - 1)),
                                          seconds: elapsed, epochsTrained: epochsTrained))
        }
        try writeSummary(summary)
        return summary
    }

    /// Why `loss` means the run diverged, or nil when it is fine.
    private func divergence(loss: Double) -> String? {
        if !loss.isFinite { return "the loss became \(loss.isNaN ? "NaN" : "infinite")" }
        if let first = progress.firstLoss, first > 0, loss > first * Self.explosionFactor {
            return String(format: "the loss exploded to %g, more than %g × its first value %g", loss, Self.explosionFactor, first)
        }
        return nil
    }

    /// Writes summary.json with the reason (the resume state and checkpoints stay as last saved, from
    /// before the divergence) and throws.
    private func stopDiverged(_ problem: String, iteration: Int, learningRate: Double, checkpoints: [String]) throws -> Never {
        let kept = ([RunFolder.resumeFile] + checkpoints).filter {
            FileManager.default.fileExists(atPath: folder.file($0).path)
        }
        let error = TrainingError.diverged(problem: problem, iteration: iteration, learningRate: learningRate, kept: kept)
        say("stopped: " + error.description)
        var summary = TrainingSummary(
            testLoss: nil, testAccuracy: nil, bestEpoch: progress.bestEpoch,
            bestValidationLoss: progress.bestValidationLoss.isFinite ? progress.bestValidationLoss : nil,
            epochsCompleted: progress.epoch, iterations: progress.iteration, interrupted: false,
            testWeights: "none", imagesPerSecond: 0, dataShare: 0, checkpoints: checkpoints)
        summary.stopReason = "diverged at iteration \(iteration): \(problem)"
        try metrics.flush()
        try writeSummary(summary)
        throw error
    }

    /// Whether `train.checkpoint_every` calls for a mid-epoch save now.
    private func checkpointDue(lastSave: UInt64) -> Bool {
        switch config.train.checkpointEvery {
        case .never: return false
        case .iterations(let every): return progress.iteration % every == 0
        case .seconds(let seconds):
            return Double(DispatchTime.now().uptimeNanoseconds - lastSave) / 1e9 >= Double(seconds)
        }
    }

    private func remainingIterations(epoch: Int, batch: Int) -> Int {
        let perEpoch = trainLoader.batchCount
        let done = epoch * perEpoch + batch
        let total = totalIterations ?? totalEpochs * perEpoch
        return max(0, total - done)
    }

    /// Iterations the run is planned for (`train.iterations`, else epochs × batches).
    private var plannedIterations: Int { totalIterations ?? totalEpochs * trainLoader.batchCount }

    /// Training done so far in epochs (fractional mid-epoch): where a metrics row belongs on the curves.
    private var epochsTrained: Double { Double(progress.iteration) / Double(max(1, trainLoader.batchCount)) }

    /// Writes the training row of the batches since the previous one (`train.log_every`, `MetricsCadence`)
    /// and starts the next window. `seenNow`: images of the window trained by this process since `start`.
    private func logTrainingWindow(epoch: Int, learningRate: Double, start: inout UInt64, seenNow: inout Int) throws {
        guard progress.windowSeen > 0 else { return }
        let now = DispatchTime.now().uptimeNanoseconds
        let seen = Double(progress.windowSeen)
        try metrics.append(MetricsRow(epoch: epoch + 1, iteration: progress.iteration, split: "train",
                                      loss: progress.windowLossSum / seen, accuracy: Double(progress.windowCorrect) / seen,
                                      learningRate: learningRate, seconds: elapsed,
                                      imagesPerSecond: Double(seenNow) / max(Double(now - start) / 1e9, 1e-9),
                                      scope: .iterations, epochsTrained: epochsTrained), soon: true)
        progress.windowLossSum = 0
        progress.windowCorrect = 0
        progress.windowSeen = 0
        start = now
        seenNow = 0
    }

    /// `seenNow`: images of the epoch trained by this process (the throughput's numerator). Returns true
    /// when early stopping ends the run after this epoch's validation.
    private func endEpoch(_ epoch: Int, lossSum: Double, correct: Int, seen: Int, seenNow: Int, seconds: Double,
                          checkpoints: inout [String]) throws -> Bool {
        guard seen > 0 else { return false }
        var stop = false
        let learningRate = schedule.learningRate(globalIteration: max(0, progress.iteration - 1))
        let trainLoss = lossSum / Double(seen), trainAccuracy = Double(correct) / Double(seen)
        try metrics.append(MetricsRow(epoch: epoch + 1, iteration: progress.iteration, split: "train", loss: trainLoss,
                                      accuracy: trainAccuracy, learningRate: learningRate, seconds: elapsed,
                                      imagesPerSecond: Double(seenNow) / max(seconds, 1e-9), epochsTrained: epochsTrained))
        var line = String(format: "epoch %d/%d  train loss %.4f acc %.2f%%", epoch + 1, totalEpochs, trainLoss, trainAccuracy * 100)
        // After an early stop at a mid-epoch validation the epoch ends without another one.
        if config.train.evalEveryEpoch, let validationLoader, earlyStopping?.hasStopped != true {
            let result = try evaluate(validationLoader)
            try metrics.append(MetricsRow(epoch: epoch + 1, iteration: progress.iteration, split: "validation",
                                          loss: result.loss, accuracy: result.accuracy, learningRate: learningRate, seconds: elapsed,
                                          epochsTrained: epochsTrained))
            line += String(format: "  |  valid loss %.4f acc %.2f%%", result.loss, result.accuracy * 100)
            let outcome = try afterValidation(result, epoch: epoch + 1, checkpoints: &checkpoints)
            line += outcome.note
            stop = outcome.stop
        }
        line += String(format: "  |  lr %g  |  %.1fs, %.0f img/s", learningRate, seconds, Double(seenNow) / max(seconds, 1e-9))
        say(line)
        let every = config.output.checkpoint.everyEpochs
        if every > 0 && (epoch + 1) % every == 0 { try saveCheckpoint("epoch-\(epoch + 1).safetensors", into: &checkpoints) }
        return stop
    }

    /// After every validation pass: keeps the best checkpoint (by the early-stopping metric, else the
    /// validation loss), steps `reduce_on_plateau` and early stopping. `note` is for the log line.
    private func afterValidation(_ result: (loss: Double, accuracy: Double), epoch: Int,
                                 checkpoints: inout [String]) throws -> (stop: Bool, note: String) {
        var note = ""
        let byAccuracy = earlyStopping?.config.metric == .validationAccuracy
        if byAccuracy ? result.accuracy > progress.bestValidationAccuracy : result.loss < progress.bestValidationLoss {
            progress.bestValidationLoss = result.loss
            progress.bestValidationAccuracy = result.accuracy
            progress.bestEpoch = epoch
            note += " *"
            if config.output.checkpoint.best { try saveCheckpoint("best.safetensors", into: &checkpoints) }
        }
        if schedule.validationResult(loss: result.loss, accuracy: result.accuracy) {
            note += String(format: "  |  plateau: lr → %g", schedule.learningRate(globalIteration: progress.iteration))
        }
        let stop = earlyStopping?.validationResult(loss: result.loss, accuracy: result.accuracy, epoch: epoch,
                                                   iteration: progress.iteration) ?? false
        if stop { note += "  |  early stopping" }
        return (stop, note)
    }

    /// Mean loss and accuracy of the model (inference mode) over every batch of `loader`.
    /// A data-parallel run evaluates each rank's share of the batches (`BatchShard.evaluationBatches`) and
    /// sums loss, correct count and images over the ranks: the single-process figures.
    public func evaluate(_ loader: BatchLoader) throws -> (loss: Double, accuracy: Double) {
        guard let world else { return Self.evaluate(plan: plan, loader: loader, labels: labels) }
        var sums = [0.0, 0.0, 0.0]
        for batch in BatchShard.evaluationBatches(batchCount: loader.batchCount, rank: world.rank, size: world.size) {
            let count = loader.fill(batch: batch, images: plan.input, labels: labels.pointer)
            let (loss, batchCorrect) = plan.evaluate(batch: count, labels: labels.pointer)
            sums[0] += Double(loss) * Double(count)
            sums[1] += Double(batchCorrect)
            sums[2] += Double(count)
        }
        try RingAllReduce.sum(&sums, transport: world.transport)
        return (sums[0] / max(sums[2], 1), sums[1] / max(sums[2], 1))
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
        ["config_hash": ConfigIdentity.hash(config, data: data), "seed": "\(config.train.seed)", "cnnspec_version": CNNSpecVersion.string,
         "model": config.modelPath, "config_name": config.name].merging(predictionMetadata) { own, _ in own }
    }

    private func saveCheckpoint(_ name: String, into list: inout [String]) throws {
        guard isWriter else { return }
        let url = folder.file(name)
        try CheckpointIO.save(plan.parameters, metadata: checkpointMetadata, to: url)
        if !list.contains(url.path) { list.append(url.path) }
    }

    /// Resume metadata holding the dropout layers' generator states (`name:hex,hex,hex,hex;…`), so a
    /// resumed run draws the same masks as an uninterrupted one. Older resume files without it resume
    /// with freshly seeded generators.
    static let randomStateKey = "random_state"
    /// Resume metadata: how many ranks trained the run (1 for a single process; absent in older files).
    static let worldSizeKey = "world_size"

    private func saveResumeState() throws {
        // Rank 0's state resumes every rank (`TrainingSession` hands it to the others).
        guard isWriter else { return }
        var extra: [String: SafetensorsFile.Tensor] = [:]
        for (name, buffer) in optimizer.stateBuffers {
            extra[name] = SafetensorsFile.Tensor(shape: [buffer.count], data: Array(buffer.buffer))
        }
        var snapshot = progress
        snapshot.elapsedSeconds = elapsed
        try metrics.flush()
        snapshot.metricsRows = metrics.rowCount
        var metadata = checkpointMetadata.merging(snapshot.metadata) { a, _ in a }
        metadata["optimizer_steps"] = "\(optimizer.stepCount)"
        metadata[Self.worldSizeKey] = "\(world?.size ?? 1)"
        metadata.merge(schedule.plateau?.metadata ?? [:]) { _, new in new }
        metadata.merge(earlyStopping?.metadata ?? [:]) { _, new in new }
        metadata[Self.randomStateKey] = plan.randomStates.sorted { $0.key < $1.key }
            .map { "\($0.key):" + $0.value.map { String($0, radix: 16) }.joined(separator: ",") }.joined(separator: ";")
        try CheckpointIO.save(plan.parameters, extra: extra, metadata: metadata, to: folder.file(RunFolder.resumeFile))
    }

    private func restore() throws {
        let url = folder.file(RunFolder.resumeFile)
        let contents = try CheckpointIO.load(into: plan.parameters, from: url)
        guard let restored = TrainingProgress(metadata: contents.metadata),
              let steps = contents.metadata["optimizer_steps"].flatMap(Int.init) else {
            throw CheckpointError(path: url.path, problem: "its metadata has no training progress (epoch, batch, iteration)")
        }
        // Files from before RMSprop have no state3; a buffer this optimizer does not use may be absent.
        for (name, buffer) in optimizer.stateBuffers where buffer.count > 0 || contents.tensors[name] != nil {
            guard let tensor = contents.tensors[name], tensor.data.count == buffer.count else {
                throw CheckpointError(path: url.path, problem: "optimizer state '\(name)' is missing or has the wrong size")
            }
            buffer.pointer.update(from: tensor.data, count: buffer.count)
        }
        guard restored.batch <= trainLoader.batchCount else {
            throw CheckpointError(path: url.path, problem: "its progress is at batch \(restored.batch) of epoch \(restored.epoch + 1) "
                + "but this config has \(trainLoader.batchCount) batches per epoch (was train.batch_size or the data changed?)")
        }
        // Ranks other than 0 keep their own dropout streams (rank 0's saved state would make them draw its masks).
        if let text = contents.metadata[Self.randomStateKey], isWriter {
            var states: [String: [UInt64]] = [:]
            for entry in text.split(separator: ";") {
                let parts = entry.split(separator: ":", maxSplits: 1)
                guard parts.count == 2 else { continue }
                states[String(parts[0])] = parts[1].split(separator: ",").compactMap { UInt64($0, radix: 16) }
            }
            let problems = plan.restoreRandomStates(states)
            guard problems.isEmpty else {
                throw CheckpointError(path: url.path, problem: "the random state of \(problems.joined(separator: ", ")) is missing or damaged")
            }
        }
        if var plateau = schedule.plateau, contents.metadata["plateau.lr"] != nil {
            guard plateau.restore(contents.metadata) else {
                throw CheckpointError(path: url.path, problem: "its reduce_on_plateau state (plateau.*) is damaged")
            }
            schedule.plateau = plateau
        }
        if var stopping = earlyStopping, contents.metadata["early_stopping.best"] != nil {
            guard stopping.restore(contents.metadata) else {
                throw CheckpointError(path: url.path, problem: "its early-stopping state (early_stopping.*) is damaged")
            }
            earlyStopping = stopping
        }
        optimizer.stepCount = steps
        progress = restored
        let savedWorld = contents.metadata[Self.worldSizeKey].flatMap(Int.init) ?? 1
        if savedWorld != (world?.size ?? 1) {
            say("note: the resume state was saved by \(English.count(savedWorld, "process", "processes")), this run has \(world?.size ?? 1); "
                + "the global batch (train.batch_size \(config.train.batchSize)) and the data order are unchanged, so training continues "
                + "as one run, but the shards' float rounding, local batch-norm statistics and dropout masks differ from an "
                + "uninterrupted run at either size")
        }
        if restored.metricsRows >= 0 { try metrics.truncate(toRows: restored.metricsRows) }
        plan.parametersDidChange()
        say("resumed at epoch \(restored.epoch + 1), batch \(restored.batch), iteration \(restored.iteration)")
    }

    private func writeSummary(_ summary: TrainingSummary) throws {
        var fields: [String] = []
        func add(_ key: String, _ value: String) { fields.append("  \"\(key)\": \(value)") }
        func number(_ value: Double?) -> String { value.map { String(format: "%.6f", $0) } ?? "null" }
        add("config", JSONText.quoted(config.name))
        add("config_hash", JSONText.quoted(ConfigIdentity.hash(config, data: data)))
        add("test_loss", number(summary.testLoss))
        add("test_accuracy", number(summary.testAccuracy))
        add("test_weights", JSONText.quoted(summary.testWeights))
        add("best_epoch", summary.bestEpoch.map(String.init) ?? "null")
        add("best_validation_loss", number(summary.bestValidationLoss))
        add("epochs_completed", "\(summary.epochsCompleted)")
        add("iterations", "\(summary.iterations)")
        add("interrupted", "\(summary.interrupted)")
        add("stop_reason", summary.stopReason.map(JSONText.quoted) ?? "null")
        add("train_images_per_second", String(format: "%.1f", summary.imagesPerSecond))
        add("data_pipeline_share", String(format: "%.4f", summary.dataShare))
        add("seconds", String(format: "%.2f", elapsed))
        if let world, let parallel {
            let shares = parallel.shares(stepNanoseconds: stepNanoseconds)
            add("world_size", "\(world.size)")
            add("ranks_per_node", "\(world.ranksPerNode)")
            add("allreduce_share", String(format: "%.4f", shares.reducing))
            add("allreduce_wait_share", String(format: "%.4f", shares.waiting))
        }
        let header = RunHeader.current(threads: plan.pool.threadCount, kernels: plan.gemm.target.description,
                                       backends: plan.backendSelections.map { ($0.layer, $0.chosen.rawValue) })
        for field in header.jsonFields { add(field.key, field.value) }
        try folder.write("{\n" + fields.joined(separator: ",\n") + "\n}\n", to: RunFolder.summaryFile)
    }
}

/// Training problems that stop a run.
public enum TrainingError: UserFacingError {
    /// The loss became non-finite or exceeded `Trainer.explosionFactor` × its first value. `kept`: the
    /// files of the run folder saved before it (resume state, checkpoints), which stay as they were.
    case diverged(problem: String, iteration: Int, learningRate: Double, kept: [String])

    public var diagnostics: [Diagnostic] {
        switch self {
        case .diverged(let problem, let iteration, let learningRate, let kept):
            let state = kept.isEmpty ? "nothing was saved before it (no resume state or checkpoint)"
                : "the last good state is kept (\(kept.joined(separator: ", ")) as last saved)"
            return [Diagnostic("training diverged: \(problem) at iteration \(iteration) (learning rate \(learningRate)); \(state)",
                               at: nil, hint: "try a smaller train.optimizer.lr, a warm-up, or normalised inputs")]
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
        case .rmsprop:
            self = .rmsprop(alpha: Float(config.alpha), epsilon: Float(config.eps), weightDecay: Float(config.weightDecay),
                            momentum: Float(config.momentum), centered: config.centered)
        }
    }
}
