import CNNSpec

/// One optimizer step as a run config asks for it, for the trainer and the learning-rate finder alike:
/// frozen layers' gradients zeroed and the gradients clipped (`train.clip_grad_value`, then
/// `train.clip_grad_norm`; PyTorch's frozen parameters have no gradient to count), the update with the
/// frozen parameters kept, and the plan told its weights changed.
public final class ParameterUpdate {
    public let optimizer: Optimizer
    /// `train.freeze`: parameters kept as they are across steps.
    public let frozen: FrozenParameters
    private let plan: ExecutionPlan
    private let clipValue: Double?
    private let clipNorm: Double?

    /// `schedulesMomentum`: a schedule (one-cycle) sets the momentum every step (see `Optimizer`).
    public init(train: TrainConfig, plan: ExecutionPlan, schedulesMomentum: Bool = false) throws {
        optimizer = Optimizer(settings: OptimizerSettings(train.optimizer), parameters: plan.parameters,
                              varyingMomentum: schedulesMomentum)
        frozen = try FrozenParameters(layers: train.freeze, store: plan.parameters)
        self.plan = plan
        clipValue = train.clipGradValue
        clipNorm = train.clipGradNorm
    }

    /// Clips, updates the parameters from their gradients at `learningRate` (and `momentum` when a
    /// schedule sets it), and refreshes what the plan derives from the weights. Allocates nothing.
    public func step(learningRate: Double, momentum: Double? = nil) {
        if clipValue != nil || clipNorm != nil {
            frozen.zeroGradients()
            optimizer.clipGradients(valueLimit: clipValue, maxNorm: clipNorm)
        }
        frozen.around { optimizer.step(learningRate: Float(learningRate), momentum: momentum.map(Float.init)) }
        plan.parametersDidChange()
    }
}
