import ArgumentParser
import CNNSpec
import CNNTrain
import Foundation

/// `cnnspec run CONFIG`: train, evaluate and leave a run folder.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Train a model from a run config, evaluate it, and write a run folder.",
        discussion: """
            The run folder (default runs/<config-name>/<timestamp>) holds config.yaml (resolved), train.log, \
            metrics.csv (training loss and accuracy every train.log_every iterations, validation and test), \
            summary.json, report.html, safetensors checkpoints with PyTorch state_dict names and, with \
            output.tensorboard: true, a TensorBoard event file.

            Ctrl-C or SIGTERM stops after saving (resume state is also saved every train.checkpoint_every, \
            default 5m); `cnnspec run --resume RUN_DIR` continues from there. A folder already holding a run \
            is refused unless --resume or --overwrite; one in use by another cnnspec is refused.
            """)

    @Argument(help: "Run config (YAML). Not needed with --resume.")
    var config: String?

    @Option(name: .customLong("set"), help: ArgumentHelp("Override a config key, e.g. --set train.optimizer.lr=0.05.",
                                                         valueName: "key.path=value"))
    var overrides: [String] = []

    @Option(help: ArgumentHelp("Continue an interrupted run from its folder.", valueName: "run-dir"))
    var resume: String?

    @Flag(help: "Replace the run an existing output.dir folder holds (its run files are deleted first).")
    var overwrite = false

    @Flag(name: .customLong("no-report"), help: "Do not write report.html into the run folder at the end.")
    var noReport = false

    func validate() throws {
        if config == nil && resume == nil { throw ValidationError("give a run config, e.g. `cnnspec run configs/modelA.yaml`") }
        if config != nil && resume != nil { throw ValidationError("--resume takes its config from the run folder; drop the CONFIG argument") }
        if overwrite && resume != nil { throw ValidationError("use either --resume or --overwrite, not both") }
    }

    func run() throws {
        try reportingUserErrors {
            let setup: RunSetup
            var resumeURL: URL?
            if let resume {
                let url = URL(fileURLWithPath: resume).standardizedFileURL
                if let finished = RunFolder.finishedSummary(at: url) {
                    print("\(url.path): this run finished earlier (\(finished)); nothing to resume")
                    return
                }
                guard FileManager.default.fileExists(atPath: url.appendingPathComponent(RunFolder.resumeFile).path) else {
                    throw UserError("not a resumable run folder (no \(RunFolder.resumeFile))", file: url.path)
                }
                setup = try RunSetup(configPath: url.appendingPathComponent(RunFolder.configFile).path, overrides: overrides)
                resumeURL = url
            } else {
                setup = try RunSetup(configPath: config ?? "", overrides: overrides)
            }
            let reporter = ProgressReporter()
            reporter.line("cnnspec \(CNNSpecVersion.string): \(setup.config.name) — model \(setup.graph.name) "
                + "(\(setup.graph.totalParameters.formatted()) parameters)")
            let data = try setup.loadData()
            let train = setup.config.train
            try MemoryEstimate(graph: setup.graph, batchCapacity: max(train.batchSize, train.evalBatchSize))
                .check(batchKey: train.evalBatchSize > train.batchSize ? "train.eval_batch_size" : "train.batch_size",
                       model: setup.config.modelPath)
            let folder: RunFolder
            if let resumeURL {
                folder = try RunFolder(url: resumeURL, mode: .continuing)
            } else {
                folder = try RunFolder.create(for: setup.config, base: URL(fileURLWithPath: FileManager.default.currentDirectoryPath),
                                              overwrite: overwrite)
                var resolved = setup.config
                resolved.data = data.resolving(setup.config.data)
                try folder.write(resolved.yamlText, to: RunFolder.configFile)
            }
            reporter.line("run folder: \(folder.url.path)")
            InterruptFlag.install()
            let trainer = try Trainer(config: setup.config, graph: setup.graph, data: data, folder: folder,
                                      reporter: reporter, resume: resume != nil)
            let summary = try trainer.run(shouldStop: { InterruptFlag.isRaised })
            var lines: [String] = []
            if let accuracy = summary.testAccuracy, let loss = summary.testLoss {
                lines.append(String(format: "test: loss %.4f, accuracy %.2f%% (%d images, %@ weights)", loss, accuracy * 100,
                                    data.test.count, summary.testWeights))
            }
            if let best = summary.bestEpoch, let loss = summary.bestValidationLoss {
                lines.append(String(format: "best validation loss %.4f at epoch %d", loss, best))
            }
            lines.append(String(format: "training throughput %.0f images/s (%@); data pipeline %.1f%% of training time",
                                summary.imagesPerSecond, English.count(trainer.plan.pool.threadCount, "thread"), summary.dataShare * 100))
            for checkpoint in summary.checkpoints { lines.append("checkpoint: \(checkpoint)") }
            lines.append("run folder: \(folder.url.path)")
            for line in lines {
                reporter.line(line)
                folder.log(line)
            }
            if !noReport && !summary.interrupted {
                do {
                    let report = try RunReport.write(runFolder: folder.url, threads: setup.config.train.threads)
                    reporter.line("report: \(report.path)")
                } catch {
                    let warning = "warning: could not write \(RunReport.fileName): \(error)"
                    reporter.line(warning)
                    folder.log(warning)
                }
            }
            // 128 + the signal, as a shell reports a process the signal ended (130 Ctrl-C, 143 SIGTERM).
            if summary.interrupted { throw ExitCode(128 + (InterruptFlag.receivedSignal == SIGTERM ? SIGTERM : SIGINT)) }
        }
    }
}
