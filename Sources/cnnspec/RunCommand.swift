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

            Started by `mpirun -np N` or `srun -n N`, the N processes train one model together, data-parallel \
            (docs/distributed.md); `--emit slurm --nodes M --ntasks-per-node K` writes such a Slurm job.
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

    @Option(help: ArgumentHelp("Write a job script into the run folder instead of running: slurm.", valueName: "scheduler"))
    var emit: String?

    @OptionGroup var slurm: SlurmJobOptions

    func validate() throws {
        if config == nil && resume == nil { throw ValidationError("give a run config, e.g. `cnnspec run configs/modelA.yaml`") }
        if config != nil && resume != nil { throw ValidationError("--resume takes its config from the run folder; drop the CONFIG argument") }
        if overwrite && resume != nil { throw ValidationError("use either --resume or --overwrite, not both") }
        if let emit, emit != "slurm" {
            let hint = DidYouMean.suggestion(for: emit, among: ["slurm"]).map { " (did you mean '\($0)'?)" } ?? ""
            throw ValidationError("--emit '\(emit)' is not supported\(hint); valid: slurm")
        }
        if emit != nil && (resume != nil || overwrite) {
            throw ValidationError("--emit slurm writes a job for a run config; the job itself resumes when resubmitted (drop --resume/--overwrite)")
        }
        if emit == nil && slurm.isUsed {
            throw ValidationError("--cpus-per-task, --slurm-option, --requeue, --nodes, --ntasks-per-node and --srun-mpi go with --emit slurm")
        }
    }

    func run() throws {
        if emit != nil {
            try reportingUserErrors {
                let workingDirectory = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
                let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
                    ?? URL(fileURLWithPath: CommandLine.arguments.first ?? "cnnspec").standardizedFileURL.path
                let url = try TrainingSession.writeSlurmScript(
                    configPath: config ?? "", overrides: overrides, workingDirectory: workingDirectory, executable: executable,
                    cpusPerTask: slurm.cpusPerTask, ranks: slurm.ranks, options: slurm.options, requeue: slurm.requeue)
                let ranks = slurm.ranks
                print("wrote \(url.path): " + (ranks.isParallel
                    ? "\(ranks.count) data-parallel ranks (\(ranks.nodes) node(s) × \(ranks.tasksPerNode)) started by srun"
                    : "one process") + "; submit it with sbatch (resubmitted, it resumes)")
            }
            return
        }
        // Under mpirun or srun with several ranks: one rank of a data-parallel run (docs/distributed.md).
        var world: DistributedWorld?
        try reportingUserErrors { world = try DistributedWorld.start() }
        do {
            try reportingUserErrors {
                try train(world: world)
            }
        } catch let exit as ExitCode where world != nil && ![0, 128 + SIGINT, 128 + SIGTERM].contains(exit.rawValue) {
            // One rank failed (its message is printed): end every rank rather than leave them waiting.
            world?.abort(code: exit.rawValue)
        }
        world?.finish()
    }

    private func train(world: DistributedWorld?) throws {
        let request: TrainingSession.Request = resume.map { .resume(folder: $0) }
            ?? .fresh(configPath: config ?? "", overwrite: overwrite)
        let session: TrainingSession
        // Ranks catch signals from the start: a SIGTERM while they are still loading must not kill one alone.
        if world != nil { InterruptFlag.install(repeatedTermExits: false) }
        switch try TrainingSession.open(request, overrides: overrides,
                                        workingDirectory: URL(fileURLWithPath: FileManager.default.currentDirectoryPath),
                                        reporter: ProgressReporter(silent: !(world?.isWriter ?? true)), world: world) {
        case .finished(let note):
            if !note.isEmpty { print(note) }
            return
        case .ready(let ready):
            session = ready
        }
        defer { session.close() }
        if world == nil { InterruptFlag.install() }
        let summary = try session.train(shouldStop: { InterruptFlag.isRaised })
        if !noReport && !summary.interrupted && (world?.isWriter ?? true) { session.writeReport() }
        // 128 + the signal, as a shell reports a process the signal ended (130 Ctrl-C, 143 SIGTERM).
        if summary.interrupted {
            world?.finish()
            throw ExitCode(128 + (InterruptFlag.receivedSignal == SIGTERM ? SIGTERM : SIGINT))
        }
    }
}
