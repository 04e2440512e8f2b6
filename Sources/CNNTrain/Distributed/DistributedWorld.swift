import CNNSpec
import Foundation

/// The ranks of a data-parallel run (`mpirun -np N cnnspec run …`, `srun -n N cnnspec run …`), or nil
/// for a plain single-process run. docs/distributed.md describes what is guaranteed.
public final class DistributedWorld: @unchecked Sendable {
    public let transport: any MessageTransport
    /// Ranks on this node (the log names it: threads per rank × ranks per node should fit the cores).
    public let ranksPerNode: Int
    /// Whether gradient buckets may be reduced on their own thread during backward (`GradientReducer`).
    public let allowsCommunicationThread: Bool
    private let abortJob: (Int32) -> Never
    private let finalize: () -> Void

    public var rank: Int { transport.rank }
    public var size: Int { transport.size }
    /// Rank 0 writes the run folder, metrics, checkpoints, TensorBoard and the report; the others train.
    public var isWriter: Bool { rank == 0 }

    /// A world over any transport (the tests' `LocalTransport`); `abort` ends the job after a failure.
    public init(transport: any MessageTransport, ranksPerNode: Int, allowsCommunicationThread: Bool,
                abort: @escaping (Int32) -> Never, finalize: @escaping () -> Void = {}) {
        self.transport = transport; self.ranksPerNode = ranksPerNode
        self.allowsCommunicationThread = allowsCommunicationThread; abortJob = abort; self.finalize = finalize
    }

    /// The number of ranks a launcher started, from its environment: Open MPI's mpirun
    /// (OMPI_COMM_WORLD_SIZE), a PMI/PMIx launcher (PMI_SIZE, PMIX_SIZE), or a Slurm job step started by srun
    /// (SLURM_STEP_NUM_TASKS inside a step other than the batch script's). Nil when none did.
    public static func launchedSize(environment: [String: String]) -> (size: Int, variable: String)? {
        for variable in ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"] {
            if let size = environment[variable].flatMap(Int.init) { return (size, variable) }
        }
        if let step = environment["SLURM_STEP_ID"], step != slurmBatchStep,
           let size = environment["SLURM_STEP_NUM_TASKS"].flatMap(Int.init) {
            return (size, "SLURM_STEP_NUM_TASKS")
        }
        return nil
    }

    /// Slurm's step id of a batch script (SLURM_BATCH_SCRIPT): cnnspec run directly in an sbatch script
    /// (a sweep's array task) is one process, whatever the job's task count.
    static let slurmBatchStep = "4294967294"

    /// Joins the MPI world when a launcher started more than one rank; nil for a single process. A launch
    /// of several ranks by a cnnspec built without MPI is refused (each would train alone, N copies writing
    /// the same run).
    public static func start(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> DistributedWorld? {
        guard let launched = launchedSize(environment: environment), launched.size > 1 else { return nil }
        #if CNNSPEC_MPI
        let transport = try MPITransport()
        guard transport.size > 1 else { transport.finalize(); return nil }
        return DistributedWorld(transport: transport, ranksPerNode: transport.ranksPerNode,
                                allowsCommunicationThread: transport.allowsCommunicationThread,
                                abort: transport.abort(code:), finalize: transport.finalize)
        #else
        throw UserError("\(launched.variable)=\(launched.size): this process is one of \(launched.size) ranks, but this cnnspec was "
            + "built without MPI, so each rank would train alone",
            hint: "install Open MPI (scripts/setup installs libopenmpi-dev and openmpi-bin) and rebuild; or run one process")
        #endif
    }

    /// `train.threads` per rank, and where the ranks are: the log's line about the world.
    public func line(threads: Int) -> String {
        "data-parallel: \(size) ranks (\(ranksPerNode) per node, \(max(1, size / max(1, ranksPerNode))) node(s)), "
            + English.count(threads, "thread") + " per rank; rank 0 writes the run folder"
    }

    /// After this rank failed (its message already printed): names the rank and ends every rank of the job.
    public func abort(code: Int32) -> Never {
        FileHandle.standardError.write(Data("cnnspec: rank \(rank) of \(size) failed (above); ending all \(size) ranks\n".utf8))
        abortJob(code)
    }

    /// The end of a run that went well on every rank.
    public func finish() { finalize() }
}
