import CNNKernels
import CNNSpec
import Foundation

/// How an `ExecutionPlan` is compiled from a run config: the one place that turns `train.*` (batch sizes,
/// backend and per-layer backends, threads, seed, fuse, freeze) into plan arguments, for training,
/// timing and every evaluation-only use (`eval`, `predict`, `export`, the report's test predictions).
public struct PlanSettings: Hashable, Sendable {
    /// Images per pass the plan is allocated for.
    public var batchCapacity: Int
    /// The config key a memory error tells the user to lower.
    public var batchKey: String
    public var backend: BackendRequest
    /// `train.layer_backends` by layer name (the last entry wins when a layer is named twice).
    public var perLayerBackends: [String: BackendRequest]
    /// Worker threads; 0 uses every core.
    public var threads: Int
    /// Seed of the initial weights and of the dropout layers.
    public var seed: UInt64
    public var fuse: Bool
    /// `train.freeze`: layers the backward pass may skip.
    public var frozenLayers: [String]
    /// `train.label_smoothing` of the training loss (evaluation-only plans keep 0).
    public var labelSmoothing: Double = 0
    /// Training plans keep gradients; inference plans reuse activation buffers and fold batch norms.
    public var purpose: PlanPurpose = .training

    public init(batchCapacity: Int, batchKey: String = PlanSettings.trainingBatchKey, backend: BackendRequest = .auto,
                perLayerBackends: [String: BackendRequest] = [:], threads: Int = 0, seed: UInt64 = 0, fuse: Bool = true,
                frozenLayers: [String] = []) {
        self.batchCapacity = batchCapacity; self.batchKey = batchKey; self.backend = backend
        self.perLayerBackends = perLayerBackends; self.threads = threads; self.seed = seed; self.fuse = fuse
        self.frozenLayers = frozenLayers
    }

    /// The config keys a memory error names.
    public static let trainingBatchKey = "train.batch_size"
    public static let evaluationBatchKey = "train.eval_batch_size"

    /// What an evaluation-only plan runs a convolution on when the config says `auto`: timing every backend
    /// at start-up costs more than the one pass over the data it would speed up, and im2col runs every
    /// geometry.
    public static let evaluationBackend = ConvolutionBackendKind.im2col

    /// A training plan. With `alsoEvaluates` (the trainer validates and tests on the same plan) it holds
    /// `max(batch_size, eval_batch_size)` images and a memory error names the larger key; without it
    /// (`cnnspec time`) exactly `batch_size`.
    public static func training(_ train: TrainConfig, alsoEvaluates: Bool = true) -> PlanSettings {
        let evaluationIsLarger = alsoEvaluates && train.evalBatchSize > train.batchSize
        var settings = PlanSettings(batchCapacity: evaluationIsLarger ? train.evalBatchSize : train.batchSize,
                                    batchKey: evaluationIsLarger ? evaluationBatchKey : trainingBatchKey,
                                    backend: train.backend, perLayerBackends: perLayerBackends(train),
                                    threads: train.threads, seed: seed(train), fuse: train.fuse, frozenLayers: train.freeze)
        settings.labelSmoothing = train.labelSmoothing
        return settings
    }

    /// An inference-only plan (no freezing: nothing learns). `train` may be nil (a model file or a checkpoint
    /// alone): then every core, seed 0 and the defaults. `auto` backends, global or per layer, become
    /// `evaluationBackend`. `batchCapacity` defaults to `train.eval_batch_size`; `threads` overrides the config's.
    public static func evaluation(_ train: TrainConfig?, batchCapacity: Int? = nil, batchKey: String = evaluationBatchKey,
                                  threads: Int? = nil) -> PlanSettings {
        let defaults = TrainConfig()
        let train = train ?? defaults
        var settings = PlanSettings(batchCapacity: batchCapacity ?? train.evalBatchSize, batchKey: batchKey,
                                    backend: inference(train.backend), perLayerBackends: perLayerBackends(train).mapValues(inference),
                                    threads: threads ?? train.threads, seed: seed(train), fuse: train.fuse)
        settings.purpose = .inference
        return settings
    }

    /// Compiles `graph` with these settings (the plan checks its memory before it allocates).
    public func makePlan(for graph: ModelGraph) throws -> ExecutionPlan {
        let plan = try ExecutionPlan(graph: graph, batchCapacity: batchCapacity, backend: backend,
                                     perLayerBackends: perLayerBackends, threads: threads, seed: seed, fuse: fuse,
                                     frozenLayers: frozenLayers, batchKey: batchKey, purpose: purpose)
        plan.labelSmoothing = Float(labelSmoothing)
        return plan
    }

    /// Refuses a plan the machine cannot hold before anything is written (`model` names it in the message).
    public func checkMemory(for graph: ModelGraph, model: String) throws {
        try MemoryEstimate(graph: graph, batchCapacity: batchCapacity, fuse: fuse, frozenLayers: frozenLayers, purpose: purpose,
                           threads: threads, backend: backend, perLayerBackends: perLayerBackends)
            .check(batchKey: batchKey, model: model)
    }

    private static func perLayerBackends(_ train: TrainConfig) -> [String: BackendRequest] {
        Dictionary(train.layerBackends.map { ($0.layer, $0.backend) }, uniquingKeysWith: { _, last in last })
    }

    /// `train.seed` as the plan's seed (negative seeds keep their bits, as they always have).
    private static func seed(_ train: TrainConfig) -> UInt64 { UInt64(truncatingIfNeeded: train.seed) }

    private static func inference(_ request: BackendRequest) -> BackendRequest {
        request == .auto ? .fixed(evaluationBackend) : request
    }
}
