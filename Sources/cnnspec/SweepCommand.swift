import ArgumentParser
import CNNSpec
import CNNTrain
import Foundation

/// `cnnspec sweep SWEEP.yaml`: run every point of a hyperparameter sweep and rank the results.
struct SweepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sweep",
        abstract: "Run a grid or random hyperparameter sweep and write a ranked results table.",
        discussion: """
            Each point runs as `cnnspec run BASE --set key=value …` in runs/sweeps/<name>/<point>. Rerunning \
            skips finished points, resumes interrupted ones and restarts the rest. Ctrl-C stops every running \
            point after it saves. The table (results.md, results.csv in runs/sweeps/<name>) is ranked by the \
            sweep's metric. See docs/sweeps.md.
            """)

    @Argument(help: "Sweep file (YAML), e.g. configs/sweeps/lr-models.yaml.")
    var sweep: String

    @Option(help: "Points to run at once; threads are split so that jobs × threads ≤ cores.")
    var jobs: Int = 1

    @Flag(help: "List the points and their run commands without running anything.")
    var dryRun = false

    @Option(help: ArgumentHelp("Write a job script instead of running: slurm.", valueName: "scheduler"))
    var emit: String?

    @Flag(help: "Only gather the points' run folders into the results table (e.g. after a Slurm run).")
    var collect = false

    @Option(name: .customLong("cpus-per-task"),
            help: "With --emit slurm: CPUs (threads) per array task; default the config's train.threads, else 4.")
    var cpusPerTask: Int?

    @Option(name: .customLong("slurm-option"),
            help: ArgumentHelp("With --emit slurm: an extra #SBATCH option, e.g. partition=cpu or time=02:00:00 (repeatable).",
                               valueName: "key=value"))
    var slurmOptions: [String] = []

    @Flag(help: "With --emit slurm: #SBATCH --requeue, so a preempted task restarts (and resumes).")
    var requeue = false

    /// CPUs per Slurm task when neither --cpus-per-task nor the config's train.threads says: a small
    /// share of a typical node, where the tutorials' models already train at full speed.
    static let defaultCPUsPerTask = 4

    func validate() throws {
        if jobs < 1 { throw ValidationError("--jobs must be at least 1") }
        if let emit, emit != "slurm" {
            let hint = DidYouMean.suggestion(for: emit, among: ["slurm"]).map { " (did you mean '\($0)'?)" } ?? ""
            throw ValidationError("--emit '\(emit)' is not supported\(hint); valid: slurm")
        }
        if [dryRun, emit != nil, collect].filter({ $0 }).count > 1 {
            throw ValidationError("use only one of --dry-run, --emit and --collect")
        }
        if emit == nil && (cpusPerTask != nil || !slurmOptions.isEmpty || requeue) {
            throw ValidationError("--cpus-per-task, --slurm-option and --requeue go with --emit slurm")
        }
        if let cpusPerTask, !(1...ConfigLimits.largestThreadCount).contains(cpusPerTask) {
            throw ValidationError("--cpus-per-task must be in 1...\(ConfigLimits.largestThreadCount)")
        }
        for option in slurmOptions where SlurmOption(argument: option) == nil {
            let parts = option.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let problem = SlurmOption.problem(key: String(parts[0]), value: parts.count > 1 ? String(parts[1]) : "") ?? ""
            throw ValidationError("--slurm-option '\(option)': \(problem); write KEY=VALUE, e.g. partition=cpu")
        }
        if jobs > ConfigLimits.largestThreadCount {
            throw ValidationError("--jobs must be in 1...\(ConfigLimits.largestThreadCount)")
        }
    }

    func run() throws {
        try reportingUserErrors {
            let spec = try SweepSpecLoader.load(path: sweep)
            var workingDirectory = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
            if collect { workingDirectory = try locateWorkingDirectory(spec, from: workingDirectory) }
            let plan = SweepPlan(spec: spec, workingDirectory: workingDirectory)
            let cores = ProcessInfo.processInfo.activeProcessorCount
            let split = SweepPlan.split(jobs: jobs, cores: cores, points: plan.points.count)
            if dryRun {
                _ = try loadEveryPoint(plan)
                printDryRun(plan, threads: split.threads, workingDirectory: workingDirectory)
            } else if emit != nil {
                let configs = try loadEveryPoint(plan)
                let configured = configs.map(\.train.threads).max() ?? 0
                let cpus = cpusPerTask ?? (configured > 0 ? configured : Self.defaultCPUsPerTask)
                let options = spec.slurmOptions + slurmOptions.compactMap(SlurmOption.init(argument:))
                let script = SlurmScript.text(plan: plan, executable: executablePath, workingDirectory: workingDirectory,
                                              cpusPerTask: cpus, options: options, requeue: requeue)
                let url = plan.folder.appendingPathComponent("slurm.sh")
                try AtomicFile.write(script, to: url)
                chmod(url.path, 0o755)
                print("wrote \(plan.display(url, relativeTo: workingDirectory)): \(plan.points.count) array tasks "
                    + "(sbatch it; or run one task here with SLURM_ARRAY_TASK_ID=0 bash \(plan.display(url, relativeTo: workingDirectory)))")
            } else if collect {
                let table = plan.results(relativeTo: workingDirectory)
                guard table.rows.contains(where: { $0.result.status != .notStarted }) else {
                    throw UserError("none of the \(plan.points.count) points of sweep '\(spec.name)' has a run folder in \(plan.folder.path)",
                                    file: sweep, hint: "run the sweep (or submit its slurm.sh) first")
                }
                print(try plan.writeResults(table), terminator: "")
            } else {
                if split.jobs < jobs {
                    printError("note: running \(split.jobs) job(s) at once (\(cores) cores, \(plan.points.count) points)")
                }
                say("sweep \(spec.name): \(plan.points.count) points, \(split.jobs) at a time × \(split.threads) thread(s), "
                    + "in \(plan.display(plan.folder, relativeTo: workingDirectory))")
                InterruptFlag.install()
                let runner = SweepRunner(plan: plan, executable: executablePath, jobs: split.jobs, threadsPerJob: split.threads,
                                         say: say)
                let outcome = try runner.run(shouldStop: { InterruptFlag.isRaised })
                let results = plan.display(plan.folder.appendingPathComponent("results.md"), relativeTo: workingDirectory)
                say("\n" + outcome.table.markdown + "\nresults: \(results) (and results.csv)")
                if outcome.interrupted {
                    say("interrupted: rerun `cnnspec sweep \(sweep)` to resume")
                    throw ExitCode(130)
                }
                if !outcome.failures.isEmpty {
                    throw UserError("\(outcome.failures.count) point(s) failed; their output is in <run folder>/\(SweepRunner.logFile)")
                }
            }
        }
    }

    /// Loads every point's config (base + overrides) and model, so that a bad value or `model:` in any
    /// point is an error before anything runs or is submitted. Returns the configs.
    private func loadEveryPoint(_ plan: SweepPlan) throws -> [RunConfig] {
        var configs: [RunConfig] = []
        var problems: [Diagnostic] = []
        for point in plan.points {
            do {
                let config = try RunConfigLoader.load(path: plan.spec.basePath, overrides: point.overrides(of: plan.spec))
                _ = try ModelSpecLoader.load(path: config.modelPath, catalog: .standard)
                configs.append(config)
            } catch let error as SpecError {
                problems += error.diagnostics.map { var d = $0; d.message = "point \(point.id): " + d.message; return d }
            } catch {
                problems.append(Diagnostic("point \(point.id): \(error)", at: SourceLocation(file: plan.spec.file)))
            }
        }
        if !problems.isEmpty {
            throw UserError(problems + [Diagnostic("\(problems.count) of \(plan.points.count) points do not load",
                                                   at: SourceLocation(file: plan.spec.file))])
        }
        return configs
    }

    /// The folder a sweep ran in (the one holding `runs/sweeps/<name>`): the current directory, else the
    /// nearest folder above the sweep file that holds it (a sweep file lives in the project it runs in).
    private func locateWorkingDirectory(_ spec: SweepSpec, from current: URL) throws -> URL {
        let relative = "runs/sweeps/" + spec.name
        let manager = FileManager.default
        var candidates = [current]
        var folder = URL(fileURLWithPath: spec.file, relativeTo: current).standardizedFileURL.deletingLastPathComponent()
        while true {
            candidates.append(folder)
            let parent = folder.deletingLastPathComponent()
            if parent.path == folder.path || candidates.count > 64 { break }
            folder = parent
        }
        if let found = candidates.first(where: { manager.fileExists(atPath: $0.appendingPathComponent(relative).path) }) {
            return found
        }
        throw UserError("no sweep folder \(relative) in \(current.path) or any folder above the sweep file", file: spec.file,
                        hint: "run `cnnspec sweep \(spec.file)` (or submit its slurm.sh) first, or run --collect from the folder it ran in")
    }

    /// One line to standard output, unbuffered so it interleaves with the runs' progress in order.
    private func say(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }

    private var executablePath: String {
        if let path = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") { return path }
        return URL(fileURLWithPath: CommandLine.arguments.first ?? "cnnspec").standardizedFileURL.path
    }

    private func printDryRun(_ plan: SweepPlan, threads: Int, workingDirectory: URL) {
        let spec = plan.spec
        print("sweep \(spec.name) (\(spec.mode.rawValue)\(spec.mode == .random ? ", seed \(spec.seed)" : "")): "
            + "\(plan.points.count) points, base \(spec.base), ranked by \(spec.metric.rawValue)")
        for point in plan.points {
            let folder = plan.folder(of: point)
            let state = SweepPointResult(folder: folder).status.rawValue
            let values = point.assignments.map { "\($0.keyPath)=\($0.value)" }.joined(separator: "  ")
            print("\(point.id)  [\(state)]  \(values)")
            let arguments = plan.freshArguments(point, basePath: plan.display(URL(fileURLWithPath: spec.basePath),
                                                                             relativeTo: workingDirectory),
                                                folder: plan.display(folder, relativeTo: workingDirectory),
                                                threads: String(threads))
            print("    cnnspec " + arguments.map(SlurmScript.quote).joined(separator: " "))
        }
    }
}
