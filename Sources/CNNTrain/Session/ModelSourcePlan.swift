import CNNSpec
import Foundation

extension ModelSource {
    /// An inference plan of `batchCapacity` images for the source's model, compiled as the config says
    /// (`PlanSettings.evaluation`; defaults without a config), with the checkpoint's weights loaded when there
    /// is one (else the initial weights from the seed). Mismatched tensors are `CheckpointError`s naming them.
    public func makeInferencePlan(batchCapacity: Int, batchKey: String = PlanSettings.evaluationBatchKey) throws -> ExecutionPlan {
        let plan = try PlanSettings.evaluation(config?.train, batchCapacity: batchCapacity, batchKey: batchKey)
            .makePlan(for: graph)
        if let checkpoint {
            _ = try CheckpointIO.load(into: plan.parameters, from: checkpoint, key: checkpointKey)
            plan.parametersDidChange()
        }
        return plan
    }
}
