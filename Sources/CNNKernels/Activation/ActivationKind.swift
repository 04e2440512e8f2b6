/// A point-wise non-linearity.
public enum ActivationKind: Hashable, Sendable {
    case relu
    case leakyRelu(negativeSlope: Float)
    case sigmoid
    case tanh
}
