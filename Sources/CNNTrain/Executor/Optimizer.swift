import CNNKernels

/// Optimizer hyperparameters, PyTorch's names and defaults.
public enum OptimizerSettings: Sendable, Equatable {
    case sgd(momentum: Float, dampening: Float, nesterov: Bool, weightDecay: Float)
    case adam(beta1: Float, beta2: Float, epsilon: Float, weightDecay: Float, decoupled: Bool)
    /// torch.optim.RMSprop: `alpha`, `eps`, `weight_decay`, `momentum`, `centered`.
    case rmsprop(alpha: Float, epsilon: Float, weightDecay: Float, momentum: Float, centered: Bool)

    /// The hyperparameter OneCycleLR's `cycle_momentum` drives: SGD and RMSprop `momentum`, Adam's beta1.
    public var momentum: Float {
        switch self {
        case .sgd(let momentum, _, _, _), .rmsprop(_, _, _, let momentum, _): return momentum
        case .adam(let beta1, _, _, _, _): return beta1
        }
    }
}

/// Updates a plan's parameters from their gradients, keeping the optimizer state (momentum, moments).
public final class Optimizer {
    public let settings: OptimizerSettings
    private let parameters: ParameterStore
    /// Momentum buffer (SGD), first moment (Adam) or `square_avg` (RMSprop).
    public let firstState: AlignedBuffer<Float>
    /// Second moment (Adam) or `momentum_buffer` (RMSprop); empty for SGD.
    public let secondState: AlignedBuffer<Float>
    /// `grad_avg` (centred RMSprop); empty otherwise. All state starts at zero (`AlignedBuffer` zeroes),
    /// as PyTorch's does.
    public let thirdState: AlignedBuffer<Float>
    /// Steps taken so far.
    public var stepCount: Int = 0

    /// `varyingMomentum`: a schedule (one-cycle) sets the momentum every step, so SGD and RMSprop keep
    /// a momentum buffer even when the configured momentum is 0 (PyTorch's OneCycleLR overrides it too).
    public init(settings: OptimizerSettings, parameters: ParameterStore, varyingMomentum: Bool = false) {
        self.settings = settings
        self.parameters = parameters
        let count = parameters.trainableCount
        switch settings {
        case .sgd(let momentum, _, _, _):
            firstState = AlignedBuffer(count: momentum != 0 || varyingMomentum ? count : 0)
            secondState = AlignedBuffer(count: 0)
            thirdState = AlignedBuffer(count: 0)
        case .adam:
            firstState = AlignedBuffer(count: count)
            secondState = AlignedBuffer(count: count)
            thirdState = AlignedBuffer(count: 0)
        case .rmsprop(_, _, _, let momentum, let centered):
            firstState = AlignedBuffer(count: count)
            secondState = AlignedBuffer(count: momentum > 0 || varyingMomentum ? count : 0)
            thirdState = AlignedBuffer(count: centered ? count : 0)
        }
    }

    /// The state buffers with their resume-file names, in a fixed order.
    public var stateBuffers: [(name: String, buffer: AlignedBuffer<Float>)] {
        [("optimizer.state1", firstState), ("optimizer.state2", secondState), ("optimizer.state3", thirdState)]
    }

    /// One update with learning rate `learningRate`, in place, over all parameters at once. `momentum`
    /// replaces the configured SGD/RMSprop momentum or Adam beta1 for this step (one-cycle's cycling).
    public func step(learningRate: Float, momentum: Float? = nil) {
        stepCount += 1
        let count = parameters.trainableCount
        switch settings {
        case .sgd(let configured, let dampening, let nesterov, let weightDecay):
            let mu = momentum ?? configured
            SGDUpdate.step(count: count, parameter: parameters.values.pointer, gradient: parameters.gradients.pointer,
                           momentumBuffer: mu != 0 && firstState.count > 0 ? firstState.pointer : nil,
                           isFirstStep: stepCount == 1, learningRate: learningRate, momentum: mu, dampening: dampening,
                           nesterov: nesterov, weightDecay: weightDecay)
        case .adam(let configured, let beta2, let epsilon, let weightDecay, let decoupled):
            AdamUpdate.step(count: count, parameter: parameters.values.pointer, gradient: parameters.gradients.pointer,
                            firstMoment: firstState.pointer, secondMoment: secondState.pointer, step: stepCount,
                            learningRate: learningRate, beta1: momentum ?? configured, beta2: beta2, epsilon: epsilon,
                            weightDecay: weightDecay, decoupledWeightDecay: decoupled)
        case .rmsprop(let alpha, let epsilon, let weightDecay, let configured, let centered):
            let mu = momentum ?? configured
            RMSpropUpdate.step(count: count, parameter: parameters.values.pointer, gradient: parameters.gradients.pointer,
                               squareAverage: firstState.pointer, gradientAverage: centered ? thirdState.pointer : nil,
                               momentumBuffer: secondState.count > 0 ? secondState.pointer : nil, learningRate: learningRate,
                               alpha: alpha, epsilon: epsilon, weightDecay: weightDecay,
                               momentum: secondState.count > 0 ? mu : 0, centered: centered)
        }
    }

    /// PyTorch's `clip_grad_value_(limit)` then `clip_grad_norm_(maxNorm)` over every trainable gradient,
    /// between backward and `step` (either may be nil). Returns the global norm before norm clipping.
    @discardableResult
    public func clipGradients(valueLimit: Double?, maxNorm: Double?) -> Double? {
        let count = parameters.trainableCount, gradients = parameters.gradients.pointer
        if let valueLimit { GradientClipping.clampValues(count: count, gradients, limit: Float(valueLimit)) }
        guard let maxNorm else { return nil }
        return GradientClipping.clipNorm(count: count, gradients, maxNorm: Float(maxNorm))
    }
}
