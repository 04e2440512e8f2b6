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

    @OptionGroup var slurm: SlurmJobOptions

    func validate() throws {
        if jobs < 1 { throw ValidationError("--jobs must be at least 1") }
        if let emit, emit != "slurm" {
            let hint = DidYouMean.suggestion(for: emit, among: ["slurm"]).map { " (did you mean '\($0)'?)" } ?? ""
            throw ValidationError("--emit '\(emit)' is not supported\(hint); valid: slurm")
        }
        if [dryRun, emit != nil, collect].filter({ $0 }).count > 1 {
            throw ValidationError("use only one of --dry-run, --emit and --collect")
        }
        if emit == nil && slurm.isUsed {
            throw ValidationError("--cpus-per-task, --slurm-option, --requeue, --nodes, --ntasks-per-node and --srun-mpi go with --emit slurm")
        }
        if jobs > ConfigLimits.largestThreadCount {
            throw ValidationError("--jobs must be in 1...\(ConfigLimits.largestThreadCount)")
        }
    }

    func run() throws {
        try reportingUserErrors {
            let spec = try SweepSpecLoader.load(path: sweep)
            var workingDirectory = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
            if collect { workingDirectory = try SweepPlan.locateWorkingDirectory(spec, from: workingDirectory) }
            let plan = SweepPlan(spec: spec, workingDirectory: workingDirectory)
            let cores = ProcessInfo.processInfo.activeProcessorCount
            let split = SweepPlan.split(jobs: jobs, cores: cores, points: plan.points.count)
            if dryRun {
                _ = try plan.checkEveryPoint()
                printDryRun(plan, threads: split.threads, workingDirectory: workingDirectory)
            } else if emit != nil {
                let configs = try plan.checkEveryPoint()
                let url = try plan.writeSlurmScript(executable: executablePath, workingDirectory: workingDirectory,
                                                    cpusPerTask: SweepPlan.cpusPerTask(requested: slurm.cpusPerTask, configs: configs),
                                                    options: slurm.options, requeue: slurm.requeue, ranks: slurm.ranks)
                print("wrote \(plan.display(url, relativeTo: workingDirectory)): \(plan.points.count) array tasks "
                    + "(sbatch it; or run one task here with SLURM_ARRAY_TASK_ID=0 bash \(plan.display(url, relativeTo: workingDirectory)))")
            } else if collect {
                print(try plan.writeResults(plan.collectedResults(relativeTo: workingDirectory)), terminator: "")
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
