import CNNKernels

/// Optimizer hyperparameters, PyTorch's names and defaults.
public enum OptimizerSettings: Sendable, Equatable {
    case sgd(momentum: Float, dampening: Float, nesterov: Bool, weightDecay: Float)
    case adam(beta1: Float, beta2: Float, epsilon: Float, weightDecay: Float, decoupled: Bool)
}

/// Updates a plan's parameters from their gradients, keeping the optimizer state (momentum, moments).
public final class Optimizer {
    public let settings: OptimizerSettings
    private let parameters: ParameterStore
    /// Momentum buffer (SGD) or first moment (Adam).
    public let firstState: AlignedBuffer<Float>
    /// Second moment (Adam only; empty for SGD).
    public let secondState: AlignedBuffer<Float>
    /// Steps taken so far.
    public var stepCount: Int = 0

    public init(settings: OptimizerSettings, parameters: ParameterStore) {
        self.settings = settings
        self.parameters = parameters
        let count = parameters.trainableCount
        switch settings {
        case .sgd(let momentum, _, _, _):
            firstState = AlignedBuffer(count: momentum != 0 ? count : 0)
            secondState = AlignedBuffer(count: 0)
        case .adam:
            firstState = AlignedBuffer(count: count)
            secondState = AlignedBuffer(count: count)
        }
    }

    /// One update with learning rate `learningRate`, in place, over all parameters at once.
    public func step(learningRate: Float) {
        stepCount += 1
        let count = parameters.trainableCount
        switch settings {
        case .sgd(let momentum, let dampening, let nesterov, let weightDecay):
            SGDUpdate.step(count: count, parameter: parameters.values.pointer, gradient: parameters.gradients.pointer,
                           momentumBuffer: momentum != 0 ? firstState.pointer : nil, isFirstStep: stepCount == 1,
                           learningRate: learningRate, momentum: momentum, dampening: dampening, nesterov: nesterov,
                           weightDecay: weightDecay)
        case .adam(let beta1, let beta2, let epsilon, let weightDecay, let decoupled):
            AdamUpdate.step(count: count, parameter: parameters.values.pointer, gradient: parameters.gradients.pointer,
                            firstMoment: firstState.pointer, secondMoment: secondState.pointer, step: stepCount,
                            learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon,
                            weightDecay: weightDecay, decoupledWeightDecay: decoupled)
        }
    }
}
