import CNNKernels
import CNNLayers
import Foundation

/// One data-parallel training step on this rank: forward and backward on its shard with the loss averaged
/// over the global batch (so the ranks' gradient sum is the single-process mean gradient), the bucketed
/// gradient all-reduce (`GradientReducer`), then the global loss, correct count and stop request, summed
/// in a fixed order. Every rank ends the step with the same gradients and the same decision to stop, and
/// then takes the same optimizer step. Allocates nothing.
final class ParallelStep {
    /// Rank r's plan seed is `train.seed + r·rankSeedStride` (the golden-ratio increment of SplitMix64), so
    /// each rank's dropout draws its own masks; parameters are rank 0's (broadcast at the start).
    static let rankSeedStride: UInt64 = 0x9E37_79B9_7F4A_7C15

    let world: DistributedWorld
    let reducer: GradientReducer
    private let plan: ExecutionPlan
    /// [loss share, correct, stop request] of this rank, then of the whole batch.
    private let statistics = AlignedBuffer<Double>(count: 3)
    private let scratch = AlignedBuffer<Double>(count: 3)

    init(world: DistributedWorld, plan: ExecutionPlan, bucketBytes: Int) {
        self.world = world
        self.plan = plan
        reducer = GradientReducer(plan: plan, transport: world.transport, bucketBytes: bucketBytes,
                                  overlap: world.allowsCommunicationThread)
    }

    /// Trains on the `shard` images at the start of the plan's input (of a global batch of `globalBatch`);
    /// `stop`: this rank was asked to stop (SIGTERM, Ctrl-C). Returns the global batch's mean loss and
    /// correct count, and whether any rank was asked to stop.
    func train(shard: Int, globalBatch: Int, labels: UnsafePointer<Int32>,
               stop: Bool) throws -> (loss: Float, correct: Int, stop: Bool) {
        var loss: Float = 0, correct = 0
        if shard > 0 {
            (loss, correct) = plan.trainStep(batch: shard, labels: labels, meanOver: globalBatch)
        } else {
            // A last batch smaller than the world: this rank adds nothing.
            Elementwise.fill(count: plan.parameters.gradients.count, value: 0, plan.parameters.gradients.pointer)
        }
        try reducer.finishStep()
        statistics.pointer[0] = Double(loss)
        statistics.pointer[1] = Double(correct)
        statistics.pointer[2] = stop ? 1 : 0
        try RingAllReduce.sum(statistics.pointer, count: 3, scratch: scratch.pointer, transport: world.transport, channel: .control)
        // Batch norm's running statistics come from each rank's own shard (local statistics, as DDP's default);
        // rank 0's are copied to every rank after each step, as DDP's broadcast_buffers does, so evaluation
        // and checkpoints see the same running statistics on every rank.
        let buffers = plan.parameters.buffers
        if buffers.count > 0 { try world.transport.broadcast(buffers.pointer, count: buffers.count) }
        return (Float(statistics.pointer[0]), Int(statistics.pointer[1].rounded()), statistics.pointer[2] > 0)
    }

    /// The log's line on the all-reduce's cost: time reducing per step (on the reducer's thread, mostly
    /// hidden behind backward) and time the main thread waited for it after backward, against the step.
    func costLine(stepNanoseconds: UInt64) -> String? {
        let steps = reducer.steps
        guard steps > 0, stepNanoseconds > 0 else { return nil }
        let step = Double(stepNanoseconds) / Double(steps) / 1e6
        let reducing = Double(reducer.reduceNanoseconds) / Double(steps) / 1e6
        let waiting = Double(reducer.waitNanoseconds) / Double(steps) / 1e6
        return String(format: "all-reduce: %.3f ms per step reducing (%.1f%% of the %.2f ms step), %.3f ms waited for after backward (%.1f%%)",
                      reducing, reducing / step * 100, step, waiting, waiting / step * 100)
    }

    /// Shares of the step for summary.json.
    func shares(stepNanoseconds: UInt64) -> (reducing: Double, waiting: Double) {
        let total = Double(max(stepNanoseconds, 1))
        return (Double(reducer.reduceNanoseconds) / total, Double(reducer.waitNanoseconds) / total)
    }
}
