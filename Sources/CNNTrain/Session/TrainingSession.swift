import CNNSpec
import Foundation

/// `cnnspec run`'s work: a fresh run or a resumed one, from its experiment and data to its run folder,
/// trainer, closing lines and report. The command parses arguments, installs the interrupt handler and
/// turns an interrupted run into its exit status.
public final class TrainingSession {
    /// What to train.
    public enum Request: Sendable {
        /// A run config (`--set` overrides applied) into a new run folder; `overwrite` replaces a run an
        /// existing `output.dir` holds.
        case fresh(configPath: String, overwrite: Bool)
        /// Continue the run in this folder, from its `config.yaml` and `resume.safetensors`.
        case resume(folder: String)
    }

    /// How a request opens.
    public enum Opening {
        /// `--resume` of a run that finished: nothing to do (the note says so).
        case finished(note: String)
        case ready(TrainingSession)
    }

    public let experiment: Experiment
    public let data: TrainingData
    public let folder: RunFolder
    public let isResumed: Bool
    /// The trainer, once `train` has built it.
    public private(set) var trainer: Trainer?
    private let reporter: ProgressReporter

    /// Checks and loads what `request` needs: a resumed folder must hold resume state (a finished run is
    /// not an error); the config and model are checked against each other, the data against the model,
    /// and the training plan's memory against the machine — all before a new run folder is made, which then
    /// gets the resolved config (every default written out, `normalize: auto` replaced by its values).
    /// Says the version line and the run folder on `reporter`. `workingDirectory` is where `runs/` goes.
    ///
    /// In a data-parallel run (`world`) every rank opens the request (the config, model and data must be at
    /// the same paths on every node); rank 0 alone makes or continues the run folder, the others write into
    /// a private scratch folder removed at the end (`close`). Resuming, rank 0's resume state is sent to every
    /// rank, so only rank 0 needs to reach the run folder's files beyond config.yaml.
    public static func open(_ request: Request, overrides: [String] = [], workingDirectory: URL,
                            reporter: ProgressReporter, world: DistributedWorld? = nil) throws -> Opening {
        let experiment: Experiment
        var resumeURL: URL?
        var overwrite = false
        let isWriter = world?.isWriter ?? true
        switch request {
        case .resume(let path):
            let url = URL(fileURLWithPath: path).standardizedFileURL
            // Rank 0 decides whether there is anything to resume, for every rank.
            let finished = isWriter ? RunFolder.finishedSummary(at: url) : nil
            if let world, try world.transport.broadcast(bytes: finished == nil ? [0] : [1]) != [0] {
                return .finished(note: finished.map { "\(url.path): this run finished earlier (\($0)); nothing to resume" } ?? "")
            }
            if let finished {
                return .finished(note: "\(url.path): this run finished earlier (\(finished)); nothing to resume")
            }
            if isWriter, let problem = RunFolder.resumeProblem(at: url) { throw problem }
            experiment = try Experiment(configPath: url.appendingPathComponent(RunFolder.configFile).path, overrides: overrides)
            resumeURL = url
        case .fresh(let configPath, let replace):
            experiment = try Experiment(configPath: configPath, overrides: overrides)
            overwrite = replace
        }
        reporter.line("cnnspec \(CNNSpecVersion.string): \(experiment.config.name) — model \(experiment.graph.name) "
            + "(\(experiment.graph.totalParameters.formatted()) parameters)")
        // Rank 0 loads the data first: a folder dataset is decoded once, into its cache (ImageCache, under the
        // data root), which the other ranks then read instead of decoding it again.
        if let world, !world.isWriter { _ = try world.transport.broadcast(bytes: []) }
        let data = try experiment.loadData()
        if let world, world.isWriter { _ = try world.transport.broadcast(bytes: [1]) }
        try experiment.checkTrainingMemory()
        let folder: RunFolder
        var scratch: URL?
        if let world, !world.isWriter {
            let url = FileManager.default.temporaryDirectory
                .appendingPathComponent("cnnspec-rank\(world.rank)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
            folder = try RunFolder(url: url, mode: .fresh)
            scratch = url
        } else if let resumeURL {
            folder = try RunFolder(url: resumeURL, mode: .continuing)
        } else {
            folder = try RunFolder.create(for: experiment.config, base: workingDirectory, overwrite: overwrite)
            var resolved = experiment.config
            resolved.data = data.resolving(experiment.config.data)
            try folder.write(resolved.yamlText, to: RunFolder.configFile)
        }
        if let world, resumeURL != nil {
            // Rank 0's resume state into every other rank's scratch folder, where `Trainer` restores it from.
            let state = try world.transport.broadcast(bytes: world.isWriter ? try resumeBytes(folder) : [])
            if !world.isWriter { try AtomicFile.write(Data(state), to: folder.file(RunFolder.resumeFile)) }
        }
        reporter.line("run folder: \(folder.url.path)")
        return .ready(TrainingSession(experiment: experiment, data: data, folder: folder, isResumed: resumeURL != nil,
                                      reporter: reporter, world: world, scratch: scratch))
    }

    private static func resumeBytes(_ folder: RunFolder) throws -> [UInt8] {
        let url = folder.file(RunFolder.resumeFile)
        do { return Array(try Data(contentsOf: url)) } catch {
            throw CheckpointError(path: url.path, problem: "cannot be read (\(error.localizedDescription))")
        }
    }

    /// `cnnspec run CONFIG --emit slurm`: checks the config and model, picks the run folder (`output.dir`, else
    /// a new `runs/<name>/<timestamp>`) and writes `slurm.sh` into it: a job that trains there on `ranks`
    /// (srun-started, data-parallel when more than one) with `cpusPerTask` threads each (default the config's
    /// `train.threads`, else `SweepPlan.defaultCPUsPerTask`), and resumes when resubmitted. Returns the script.
    public static func writeSlurmScript(configPath: String, overrides: [String], workingDirectory: URL, executable: String,
                                        cpusPerTask: Int?, ranks: SlurmRanks, options: [SlurmOption],
                                        requeue: Bool) throws -> URL {
        let experiment = try Experiment(configPath: configPath, overrides: overrides)
        let config = experiment.config
        let folder = RunFolder.newURL(for: config, base: workingDirectory)
        let threads = cpusPerTask ?? (config.train.threads > 0 ? config.train.threads : SweepPlan.defaultCPUsPerTask)
        let script = SlurmScript.runText(
            configPath: URL(fileURLWithPath: configPath, relativeTo: workingDirectory).standardizedFileURL.path,
            overrides: overrides, name: config.name, folder: folder, executable: executable,
            workingDirectory: workingDirectory, cpusPerTask: threads, ranks: ranks, options: options, requeue: requeue)
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        } catch {
            throw FileWriteError(path: folder.path, reason: "cannot create the run folder (\(error.localizedDescription))")
        }
        let url = folder.appendingPathComponent("slurm.sh")
        try AtomicFile.write(script, to: url)
        chmod(url.path, 0o755)
        return url
    }

    /// The ranks of a data-parallel run, or nil.
    public let world: DistributedWorld?
    /// A rank other than 0: its private folder, removed by `close`.
    private let scratch: URL?

    private init(experiment: Experiment, data: TrainingData, folder: RunFolder, isResumed: Bool, reporter: ProgressReporter,
                 world: DistributedWorld?, scratch: URL?) {
        self.experiment = experiment; self.data = data; self.folder = folder; self.isResumed = isResumed
        self.reporter = reporter; self.world = world; self.scratch = scratch
    }

    /// Ends the trainer's helper thread and removes a non-writing rank's scratch folder.
    public func close() {
        trainer?.close()
        if let scratch { try? FileManager.default.removeItem(at: scratch) }
    }

    /// Builds the trainer (restoring the resume state of a resumed run), trains until the end or until
    /// `shouldStop`, and says the closing lines (test result, best validation, throughput, checkpoints, folder)
    /// on the reporter and in train.log.
    public func train(shouldStop: () -> Bool = { false }) throws -> TrainingSummary {
        let trainer: Trainer
        do {
            trainer = try Trainer(config: experiment.config, graph: experiment.graph, data: data, folder: folder,
                                  reporter: reporter, resume: isResumed, world: world)
        } catch {
            // A new run that cannot start (a bad train.init file, a frozen layer the model lacks) leaves no
            // folder behind, so fixing the config and rerunning is not refused as "already holds a run".
            if !isResumed, world?.isWriter ?? true, folder.discardFailedStart() { reporter.line("removed the run folder \(folder.url.path): the run did not start") }
            throw error
        }
        self.trainer = trainer
        let summary = try trainer.run(shouldStop: shouldStop)
        for line in closingLines(summary, threads: trainer.plan.pool.threadCount) { say(line) }
        return summary
    }

    /// What a run prints when it ends.
    func closingLines(_ summary: TrainingSummary, threads: Int) -> [String] {
        var lines: [String] = []
        if let accuracy = summary.testAccuracy, let loss = summary.testLoss {
            lines.append(String(format: "test: loss %.4f, accuracy %.2f%% (%d images, %@ weights)", loss, accuracy * 100,
                                data.test.count, summary.testWeights))
        }
        if let best = summary.bestEpoch, let loss = summary.bestValidationLoss {
            lines.append(String(format: "best validation loss %.4f at epoch %d", loss, best))
        }
        lines.append(String(format: "training throughput %.0f images/s (%@); data pipeline %.1f%% of training time",
                            summary.imagesPerSecond, English.count(threads, "thread"), summary.dataShare * 100))
        for checkpoint in summary.checkpoints { lines.append("checkpoint: \(checkpoint)") }
        lines.append("run folder: \(folder.url.path)")
        return lines
    }

    /// Writes report.html into the run folder and says where; a failure is a warning (the run itself
    /// succeeded), said and logged.
    public func writeReport() {
        do {
            let report = try RunReport.write(runFolder: folder.url, threads: experiment.config.train.threads)
            reporter.line("report: \(report.path)")
        } catch {
            say("warning: could not write \(RunReport.fileName): \(error)")
        }
    }

    private func say(_ line: String) {
        reporter.line(line)
        folder.log(line)
    }
}
