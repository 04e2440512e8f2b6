/// A point-wise non-linearity, with PyTorch's definition and PyTorch's gradient at kinks.
public enum ActivationKind: Hashable, Sendable {
    case relu
    case leakyRelu(negativeSlope: Float)
    case sigmoid
    case tanh
    /// x·Φ(x), Φ the standard normal CDF (`nn.GELU()`, the exact erf form).
    case gelu
    /// x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))/2 (`nn.GELU(approximate="tanh")`).
    case geluTanh
    /// x·σ(x) (`nn.SiLU`, "swish").
    case silu
    /// x for x > 0, alpha·(eˣ − 1) otherwise (`nn.ELU`); gradient alpha·eˣ for x ≤ 0, so alpha at 0.
    case elu(alpha: Float)
    /// min(max(x, 0), 6) (`nn.ReLU6`); gradient 0 at both kinks 0 and 6.
    case relu6
    /// x·relu6(x + 3)/6 (`nn.Hardswish`); gradient 0 at −3, 1 at 3 (PyTorch ≥ 1.13).
    case hardswish
    /// relu6(x + 3)/6 (`nn.Hardsigmoid`); gradient 0 at ±3.
    case hardsigmoid
    /// x·tanh(softplus(x)) (`nn.Mish`).
    case mish
    /// log(1 + e^{beta·x})/beta, or x itself where beta·x > threshold (`nn.Softplus`).
    case softplus(beta: Float, threshold: Float)

    /// Whether `Activation.backward` needs the forward input intact (rather than only the output).
    /// Such kinds cannot run forward in place (output aliasing input) unless the caller keeps a copy.
    /// ReLU and leaky ReLU read the input but only its sign, which the output keeps for a slope ≥ 0;
    /// ReLU6 reads the output (0 < y < 6 is exactly its linear part).
    public var backwardNeedsInput: Bool {
        switch self {
        case .leakyRelu(let slope): return slope < 0
        case .relu, .sigmoid, .tanh, .relu6: return false
        case .gelu, .geluTanh, .silu, .elu, .hardswish, .hardsigmoid, .mish, .softplus: return true
        }
    }
}
