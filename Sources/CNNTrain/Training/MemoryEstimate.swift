import CNNKernels
import CNNLayers
import CNNSpec
import Foundation

/// The memory an execution plan will take, estimated from the graph's shapes before anything is
/// allocated, and the check that refuses a plan the machine cannot hold.
///
/// Without it, `train.batch_size: 1000000000` or an 822M-parameter model ends in a "failed to
/// allocate" abort or in the kernel's OOM killer taking the machine. The estimate errs on the large
/// side (every tensor counted, plus a margin) because its purpose is to refuse hopeless plans with a
/// useful message, not to squeeze the last gigabyte out of a machine.
public struct MemoryEstimate: Sendable, Equatable {
    /// Bytes of one float32.
    static let floatBytes = 4.0
    static let floatBytesCount = 4
    /// Copies of every parameter: values, gradients and up to two optimizer states (Adam's moments).
    static let parameterCopies = 4.0
    /// Copies of every activation: values, gradients, and layer scratch of the same size (pooling's
    /// argmax, dropout's mask, batch-norm's normalised input).
    static let activationCopies = 3.0
    /// Copies of every activation for layer scratch, beside the buffers a memory plan counted.
    static let scratchCopies = 1.0
    /// Fixed allowance for the process itself, the loaders' scratch and the thread pool (256 MiB).
    static let baseBytes = 256.0 * 1024 * 1024

    /// Parameter values, gradients and optimizer state.
    public var parameterBytes: Double
    /// Activations and their gradients for the whole batch capacity.
    public var activationBytes: Double
    /// What every layer allocates beside the activations and parameters, as it states it
    /// (`ExecutableOperation.memory`): convolution kernels (Toeplitz's matrix, Winograd's transformed weights,
    /// per-thread scratch), masks, argmax.
    public var workspaceBytes: Double
    /// Activation and workspace bytes per image of the batch (what one less image saves).
    public var bytesPerImage: Double
    public var batchCapacity: Int

    public var totalBytes: Double { parameterBytes + activationBytes + workspaceBytes + Self.baseBytes }

    /// Estimates the plan `ExecutionPlan(graph:batchCapacity:…)` will build with these threads and backends.
    /// Computed in Double so that no shape, however large, can overflow. `plannedElementsPerImage` is what
    /// the plan's memory plan allocates per image (activations and gradients, buffers shared by liveness);
    /// without it every activation counts with its gradient.
    public init(graph: ModelGraph, batchCapacity: Int, plannedElementsPerImage: Double? = nil, threads: Int = 0,
                backend: BackendRequest = .auto, perLayerBackends: [String: BackendRequest] = [:]) {
        var activationsPerImage = 0.0
        var workspace = 0.0, persistent = 0.0
        let threadCount = ThreadPool.threadCount(requested: threads)
        for node in graph.nodes {
            activationsPerImage += Double(node.outputShape.elementCount)
            if let operation = node.op as? any ExecutableOperation {
                let footprint = operation.memory(LayerSizing(
                    inputShapes: node.inputs.map { graph.nodes[$0].outputShape }, outputShape: node.outputShape,
                    batchCapacity: max(1, batchCapacity), threads: threadCount,
                    requestedBackend: perLayerBackends[node.name] ?? backend))
                workspace += footprint.workspaceBytes
                persistent += footprint.persistentBytes
            }
        }
        let batch = Double(max(1, batchCapacity))
        self.batchCapacity = batchCapacity
        parameterBytes = Double(graph.totalParameters) * Self.floatBytes * Self.parameterCopies
        let buffersPerImage = plannedElementsPerImage.map { $0 + activationsPerImage * Self.scratchCopies }
            ?? activationsPerImage * Self.activationCopies
        activationBytes = buffersPerImage * Self.floatBytes * batch
        workspaceBytes = workspace + persistent
        // Workspaces mostly grow with the batch; counting all of them per image errs towards a smaller batch.
        bytesPerImage = buffersPerImage * Self.floatBytes + workspace / batch
        fixedWorkspaceBytes = persistent
    }

    /// The part of `workspaceBytes` a smaller batch does not shrink (kept weights: Toeplitz, Winograd).
    var fixedWorkspaceBytes: Double

    /// Throws a `MemoryError` when the estimate exceeds `available` (default: what the machine can give now).
    public func check(available: Double? = MemoryEstimate.availableBytes(), batchKey: String = "train.batch_size",
                      model: String) throws(MemoryError) {
        guard let available, totalBytes > available else { return }
        let fixed = parameterBytes + fixedWorkspaceBytes + Self.baseBytes
        let fittingBatch = bytesPerImage > 0 ? Int(max(0, (available - fixed) / bytesPerImage)) : 0
        var hint: String
        if fittingBatch >= 1 {
            hint = "lower \(batchKey) to at most \(fittingBatch) (each image of the batch needs \(Self.format(bytesPerImage)))"
        } else {
            hint = "the model alone does not fit: use a smaller model (fewer channels or layers, or pool earlier)"
        }
        hint += ", or free memory on this machine"
        throw MemoryError(message: "\(model): training this plan needs about \(Self.format(totalBytes)) "
                              + "(parameters, gradients and optimizer state \(Self.format(parameterBytes)); "
                              + "activations and gradients for a batch of \(batchCapacity) \(Self.format(activationBytes)); "
                              + "layer workspaces \(Self.format(workspaceBytes))) "
                              + "but only \(Self.format(available)) is available",
                          hint: hint)
    }

    /// `1.5 GiB`, `320.0 MiB`.
    static func format(_ bytes: Double) -> String {
        let units = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB"]
        var value = bytes, unit = 0
        while value >= 1024 && unit < units.count - 1 { value /= 1024; unit += 1 }
        return unit == 0 ? "\(Int(value)) bytes" : String(format: "%.1f %@", value, units[unit])
    }

    /// Memory this process may still take: the smallest of MemAvailable (/proc/meminfo; else the
    /// physical memory), the cgroup limit less its usage (Slurm and containers confine jobs with
    /// cgroups) and the address-space limit (`ulimit -v`) less what is mapped. Nil when unknown.
    public static func availableBytes() -> Double? {
        var candidates: [Double] = []
        if let meminfo = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8),
           let kib = field("MemAvailable:", in: meminfo) {
            candidates.append(kib * 1024)
        } else {
            candidates.append(Double(ProcessInfo.processInfo.physicalMemory))
        }
        if let limit = number(atPath: "/sys/fs/cgroup/memory.max"), let used = number(atPath: "/sys/fs/cgroup/memory.current") {
            candidates.append(max(0, limit - used))
        }
        var limit = rlimit()
        if getrlimit(Int32(RLIMIT_AS.rawValue), &limit) == 0, limit.rlim_cur != rlim_t.max {  // RLIM_INFINITY
            var mapped = 0.0
            if let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
               let kib = field("VmSize:", in: status) {
                mapped = kib * 1024
            }
            candidates.append(max(0, Double(limit.rlim_cur) - mapped))
        }
        return candidates.min()
    }

    /// The number after `name` on its line of a /proc file (in kB there).
    private static func field(_ name: String, in text: String) -> Double? {
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(name) }) else { return nil }
        return line.dropFirst(name.count).split(separator: " ").first.flatMap { Double($0) }
    }

    /// A file holding one number ("max" and unreadable files give nil).
    private static func number(atPath path: String) -> Double? {
        (try? String(contentsOfFile: path, encoding: .utf8)).flatMap { Double($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }
}

/// A plan that would not fit in memory, with the estimate and how to shrink it.
public struct MemoryError: UserFacingError, Sendable {
    public var message: String
    public var hint: String
    public var diagnostics: [Diagnostic] { [Diagnostic(message, at: nil, hint: hint)] }
}
