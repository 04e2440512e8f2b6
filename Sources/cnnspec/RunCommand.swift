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
            let request: TrainingSession.Request = resume.map { .resume(folder: $0) }
                ?? .fresh(configPath: config ?? "", overwrite: overwrite)
            let session: TrainingSession
            switch try TrainingSession.open(request, overrides: overrides,
                                            workingDirectory: URL(fileURLWithPath: FileManager.default.currentDirectoryPath),
                                            reporter: ProgressReporter()) {
            case .finished(let note):
                print(note)
                return
            case .ready(let ready):
                session = ready
            }
            InterruptFlag.install()
            let summary = try session.train(shouldStop: { InterruptFlag.isRaised })
            if !noReport && !summary.interrupted { session.writeReport() }
            // 128 + the signal, as a shell reports a process the signal ended (130 Ctrl-C, 143 SIGTERM).
            if summary.interrupted { throw ExitCode(128 + (InterruptFlag.receivedSignal == SIGTERM ? SIGTERM : SIGINT)) }
        }
    }
}
