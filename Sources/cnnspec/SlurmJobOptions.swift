import ArgumentParser
import CNNSpec
import CNNTrain

/// The options of `--emit slurm`, shared by `cnnspec run` and `cnnspec sweep`: the job's CPUs per task, extra
/// `#SBATCH` lines, requeueing, and the ranks of a data-parallel job (docs/distributed.md).
struct SlurmJobOptions: ParsableArguments {
    @Option(name: .customLong("cpus-per-task"),
            help: "With --emit slurm: CPUs (threads) per task (rank); default the config's train.threads, else 4.")
    var cpusPerTask: Int?

    @Option(name: .customLong("slurm-option"),
            help: ArgumentHelp("With --emit slurm: an extra #SBATCH option, e.g. partition=cpu or time=02:00:00 (repeatable).",
                               valueName: "key=value"))
    var slurmOptions: [String] = []

    @Flag(help: "With --emit slurm: #SBATCH --requeue, so a preempted task restarts (and resumes).")
    var requeue = false

    @Option(help: "With --emit slurm: nodes of a data-parallel job (ranks started by srun); default 1.")
    var nodes: Int?

    @Option(name: .customLong("ntasks-per-node"),
            help: "With --emit slurm: data-parallel ranks per node, each of --cpus-per-task threads; default 1.")
    var tasksPerNode: Int?

    @Option(name: .customLong("srun-mpi"),
            help: ArgumentHelp("With --emit slurm and several ranks: srun's MPI plugin (srun --mpi=list); 'default' leaves the cluster's.",
                               valueName: "plugin"))
    var srunMPI: String = SlurmRanks.defaultMPIPlugin

    /// Whether any of these options was given (they need `--emit slurm`).
    var isUsed: Bool {
        cpusPerTask != nil || !slurmOptions.isEmpty || requeue || nodes != nil || tasksPerNode != nil
            || srunMPI != SlurmRanks.defaultMPIPlugin
    }

    func validate() throws {
        if let cpusPerTask, !(1...ConfigLimits.largestThreadCount).contains(cpusPerTask) {
            throw ValidationError("--cpus-per-task must be in 1...\(ConfigLimits.largestThreadCount)")
        }
        for option in slurmOptions where SlurmOption(argument: option) == nil {
            let parts = option.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let problem = SlurmOption.problem(key: String(parts[0]), value: parts.count > 1 ? String(parts[1]) : "") ?? ""
            throw ValidationError("--slurm-option '\(option)': \(problem); write KEY=VALUE, e.g. partition=cpu")
        }
        if let problem = SlurmRanks.check(nodes: nodes ?? 1, tasksPerNode: tasksPerNode ?? 1) { throw ValidationError(problem) }
        if srunMPI.isEmpty || !srunMPI.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) {
            throw ValidationError("--srun-mpi '\(srunMPI)': give a plugin name from `srun --mpi=list` (e.g. pmix, pmi2) or 'default'")
        }
    }

    var options: [SlurmOption] { slurmOptions.compactMap(SlurmOption.init(argument:)) }

    var ranks: SlurmRanks {
        SlurmRanks(nodes: nodes ?? 1, tasksPerNode: tasksPerNode ?? 1, mpiPlugin: srunMPI == "default" ? nil : srunMPI)
    }
}
