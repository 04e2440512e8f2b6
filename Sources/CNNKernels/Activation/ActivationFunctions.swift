/// Vector forms of the smooth and piecewise activations (forward y = f(x), gradient g·f′(x)),
/// written for full relative accuracy in the tails that PyTorch's float64 references resolve:
/// cancellation-prone forms like 1 + erf(x), 1 + tanh(u), eˣ − 1 or 1 − tanh² are rewritten.
enum ActivationFunctions {
    typealias Vector = SIMD16<Float>

    /// √(2/π): scale inside the tanh form of GELU.
    static let geluTanhScale: Float = 0.797_884_560_802_865_4
    /// The cubic coefficient of the tanh form of GELU.
    static let geluTanhCubic: Float = 0.044_715
    /// |x| past which the tanh-GELU gradient is exactly 0 or 1 in float32 (u ≈ 300, e^{−2u} ≈ 0).
    static let geluTanhGradientLimit: Float = 20
    /// ReLU6's upper clip, which also sets hardswish/hardsigmoid's linear range [−3, 3].
    static let relu6Limit: Float = 6
    /// Hardswish/hardsigmoid shift: relu6(x + 3)/6.
    static let hardShift: Float = 3
    /// Above this, mish's tanh(softplus(x)) is 1 in float32 (e^{−2x}·4 < 1e-17); clamping eˣ there
    /// keeps (eˣ)² finite.
    static let mishSaturation: Float = 20

    // MARK: ReLU

    /// max(x, 0) with NaN kept (PyTorch's relu); this spelling (a scalar 0) compiles to one `vmaxps` even
    /// inside large loops, where other spellings of the select became loops over the lanes.
    @inline(__always) static func relu(_ x: Vector) -> Vector { x.replacing(with: 0, where: x .< 0) }

    /// The ReLU's gradient: g where y > 0, else 0 (0 at exactly 0, as PyTorch's); y is the ReLU's input or output.
    @inline(__always) static func reluGradient(_ y: Vector, _ g: Vector) -> Vector { g.replacing(with: 0, where: y .<= 0) }

    // MARK: GELU

    @inline(__always) static func gelu(_ x: Vector) -> Vector {
        x * VectorMath.normalCDFAndDensity(x).cdf
    }

    /// d/dx x·Φ(x) = Φ(x) + x·φ(x).
    @inline(__always) static func geluGradient(_ x: Vector, _ g: Vector) -> Vector {
        let normal = VectorMath.normalCDFAndDensity(x)
        return g * normal.cdf.addingProduct(x, normal.density)
    }

    /// x·(1 + tanh u)/2 = x·σ(2u), u = √(2/π)(x + 0.044715x³): the sigmoid form keeps the left tail's
    /// relative accuracy, where 1 + tanh u cancels.
    @inline(__always) static func geluTanh(_ x: Vector) -> Vector {
        let u = geluTanhInner(x)
        return x / (1 + VectorMath.exp(-(u + u)))
    }

    /// d/dx = s + x·2s(1 − s)·u′ with s = σ(2u), since (1 + tanh u)/2 = s and 1 − tanh²u = 4s(1 − s);
    /// s(1 − s) = (e·s)·s with e = e^{−2u} avoids 1 − s and, in that order, overflow. x is clamped to
    /// ±`geluTanhGradientLimit` first: beyond it the gradient is 0 or 1 in float32, and x³ stays finite.
    @inline(__always) static func geluTanhGradient(_ x: Vector, _ g: Vector) -> Vector {
        let limit = Vector(repeating: geluTanhGradientLimit)
        let clamped = x.replacing(with: limit, where: x .> limit).replacing(with: -limit, where: x .< -limit)
        let u = geluTanhInner(clamped)
        let e = VectorMath.exp(-(u + u))
        let s = 1 / (1 + e)
        let innerDerivative = geluTanhScale * ((clamped * clamped) * (3 * geluTanhCubic) + 1)  // u′(x)
        let slope = e * s * s * (clamped + clamped) * innerDerivative
        return g * (s + slope)
    }

    /// u = √(2/π)·(x + 0.044715·x³) = √(2/π)·x·(1 + 0.044715·x²).
    @inline(__always) static func geluTanhInner(_ x: Vector) -> Vector {
        geluTanhScale * x * ((x * x) * geluTanhCubic + 1)
    }

    // MARK: SiLU, ELU

    @inline(__always) static func silu(_ x: Vector) -> Vector {
        x * VectorMath.sigmoid(x)
    }

    /// d/dx x·σ(x) = σ(x)·(1 + x·(1 − σ(x))), PyTorch's form.
    @inline(__always) static func siluGradient(_ x: Vector, _ g: Vector) -> Vector {
        let s = VectorMath.sigmoid(x)
        return g * s * (x * (1 - s) + 1)
    }

    /// alpha·expm1(x) for x ≤ 0: expm1 keeps digits near the kink.
    @inline(__always) static func elu(_ x: Vector, alpha: Float) -> Vector {
        x.replacing(with: alpha * VectorMath.expm1(x), where: x .<= 0)
    }

    @inline(__always) static func eluGradient(_ x: Vector, _ g: Vector, alpha: Float) -> Vector {
        g.replacing(with: g * alpha * VectorMath.exp(x), where: x .<= 0)
    }

    // MARK: ReLU6, hardswish, hardsigmoid

    @inline(__always) static func relu6(_ x: Vector) -> Vector {
        x.replacing(with: 0, where: x .< 0).replacing(with: relu6Limit, where: x .> relu6Limit)
    }

    /// From the output: 0 < y < 6 exactly where 0 < x < 6 (clipping is exact), PyTorch's hardtanh rule.
    @inline(__always) static func relu6Gradient(_ y: Vector, _ g: Vector) -> Vector {
        Vector().replacing(with: g, where: (y .> 0) .& (y .< relu6Limit))
    }

    @inline(__always) static func hardswish(_ x: Vector) -> Vector {
        x * relu6(x + hardShift) / relu6Limit
    }

    /// 0 for x ≤ −3, x/3 + 1/2 for −3 < x < 3, 1 from 3 on (PyTorch's kink convention).
    @inline(__always) static func hardswishGradient(_ x: Vector, _ g: Vector) -> Vector {
        let middle = g * (x / hardShift + 0.5)
        return Vector().replacing(with: middle, where: x .> -hardShift).replacing(with: g, where: x .>= hardShift)
    }

    @inline(__always) static func hardsigmoid(_ x: Vector) -> Vector {
        relu6(x + hardShift) / relu6Limit
    }

    /// g/6 strictly inside (−3, 3), 0 at and beyond the kinks.
    @inline(__always) static func hardsigmoidGradient(_ x: Vector, _ g: Vector) -> Vector {
        Vector().replacing(with: g / relu6Limit, where: (x .> -hardShift) .& (x .< hardShift))
    }

    // MARK: Mish, softplus

    /// tanh(softplus(x)) = n/(n + 2) with n = eˣ(eˣ + 2), and 1 − tanh² = (4n + 4)/(n + 2)²: no tanh,
    /// no log, no cancellation. Returns (tanh(softplus x), 1 − tanh²(softplus x)).
    @inline(__always) static func mishParts(_ x: Vector) -> (tanhSoftplus: Vector, sech2: Vector) {
        let clamped = x.replacing(with: mishSaturation, where: x .> mishSaturation)
        let e = VectorMath.exp(clamped)
        let n = e * (e + 2)
        let denominator = n + 2
        let reciprocal = 1 / denominator
        return (n * reciprocal, (4 * n + 4) * reciprocal * reciprocal)
    }

    @inline(__always) static func mish(_ x: Vector) -> Vector {
        x * mishParts(x).tanhSoftplus
    }

    /// tanh(sp) + x·σ(x)·(1 − tanh²(sp)), PyTorch's form (σ = d softplus/dx).
    @inline(__always) static func mishGradient(_ x: Vector, _ g: Vector) -> Vector {
        let parts = mishParts(x)
        return g * parts.tanhSoftplus.addingProduct(x * VectorMath.sigmoid(x), parts.sech2)
    }

    /// log(1 + e^{bx})/b as max(bx, 0) + log1p(e^{−|bx|}) (never overflows), x itself past the threshold.
    @inline(__always) static func softplus(_ x: Vector, beta: Float, threshold: Float) -> Vector {
        let scaled = x * beta
        let magnitude = scaled.replacing(with: -scaled, where: scaled .< 0)
        let positive = scaled.replacing(with: 0, where: scaled .< 0)
        let smooth = (positive + VectorMath.log1p(VectorMath.exp(-magnitude))) / beta
        return smooth.replacing(with: x, where: scaled .> threshold)
    }

    /// σ(bx) = e^{bx}/(e^{bx} + 1), or g itself past the threshold.
    @inline(__always) static func softplusGradient(_ x: Vector, _ g: Vector, beta: Float, threshold: Float) -> Vector {
        let scaled = x * beta
        return (g * VectorMath.sigmoid(scaled)).replacing(with: g, where: scaled .> threshold)
    }
}
