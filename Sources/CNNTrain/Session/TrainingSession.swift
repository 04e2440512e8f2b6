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
    public static func open(_ request: Request, overrides: [String] = [], workingDirectory: URL,
                            reporter: ProgressReporter) throws -> Opening {
        let experiment: Experiment
        var resumeURL: URL?
        var overwrite = false
        switch request {
        case .resume(let path):
            let url = URL(fileURLWithPath: path).standardizedFileURL
            if let finished = RunFolder.finishedSummary(at: url) {
                return .finished(note: "\(url.path): this run finished earlier (\(finished)); nothing to resume")
            }
            if let problem = RunFolder.resumeProblem(at: url) { throw problem }
            experiment = try Experiment(configPath: url.appendingPathComponent(RunFolder.configFile).path, overrides: overrides)
            resumeURL = url
        case .fresh(let configPath, let replace):
            experiment = try Experiment(configPath: configPath, overrides: overrides)
            overwrite = replace
        }
        reporter.line("cnnspec \(CNNSpecVersion.string): \(experiment.config.name) — model \(experiment.graph.name) "
            + "(\(experiment.graph.totalParameters.formatted()) parameters)")
        let data = try experiment.loadData()
        try experiment.checkTrainingMemory()
        let folder: RunFolder
        if let resumeURL {
            folder = try RunFolder(url: resumeURL, mode: .continuing)
        } else {
            folder = try RunFolder.create(for: experiment.config, base: workingDirectory, overwrite: overwrite)
            var resolved = experiment.config
            resolved.data = data.resolving(experiment.config.data)
            try folder.write(resolved.yamlText, to: RunFolder.configFile)
        }
        reporter.line("run folder: \(folder.url.path)")
        return .ready(TrainingSession(experiment: experiment, data: data, folder: folder, isResumed: resumeURL != nil,
                                      reporter: reporter))
    }

    private init(experiment: Experiment, data: TrainingData, folder: RunFolder, isResumed: Bool, reporter: ProgressReporter) {
        self.experiment = experiment; self.data = data; self.folder = folder; self.isResumed = isResumed
        self.reporter = reporter
    }

    /// Builds the trainer (restoring the resume state of a resumed run), trains until the end or until
    /// `shouldStop`, and says the closing lines (test result, best validation, throughput, checkpoints, folder)
    /// on the reporter and in train.log.
    public func train(shouldStop: () -> Bool = { false }) throws -> TrainingSummary {
        let trainer: Trainer
        do {
            trainer = try Trainer(config: experiment.config, graph: experiment.graph, data: data, folder: folder,
                                  reporter: reporter, resume: isResumed)
        } catch {
            // A new run that cannot start (a bad train.init file, a frozen layer the model lacks) leaves no
            // folder behind, so fixing the config and rerunning is not refused as "already holds a run".
            if !isResumed, folder.discardFailedStart() { reporter.line("removed the run folder \(folder.url.path): the run did not start") }
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
