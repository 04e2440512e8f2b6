/// Point-wise activations, forward and backward, SIMD-vectorised and split over the pool for
/// large tensors. `gradInput` may alias `gradOutput` in backward; `output` may alias `input` in
/// forward only for kinds whose `backwardNeedsInput` is false (or when the gradient is not needed).
public enum Activation {
    public static func forward(_ kind: ActivationKind, count: Int, input: UnsafePointer<Float>,
                               output: UnsafeMutablePointer<Float>, pool: ThreadPool) {
        let pass = ForwardPass(kind: kind, input: input, output: output)
        ElementwiseChunking.forEachChunk(count, pool: pool, context: pass) { raw, start, end in
            let pass = raw.load(as: ForwardPass.self)
            let length = end - start, x = pass.input + start, y = pass.output + start
            switch pass.kind {
            case .relu:
                Activation.apply(length, x, y, { ActivationFunctions.relu($0) }, { max($0, 0) })
            case .leakyRelu(let slope):
                Activation.apply(length, x, y, { $0.replacing(with: $0 * slope, where: $0 .< 0) }, { $0 < 0 ? $0 * slope : $0 })
            case .sigmoid:
                Activation.sigmoidForward(length, x, y)
            case .tanh:
                Activation.tanhForward(length, x, y)
            case .gelu:
                Activation.map(length, x, y, ActivationFunctions.gelu)
            case .geluTanh:
                Activation.map(length, x, y, ActivationFunctions.geluTanh)
            case .silu:
                Activation.map(length, x, y, ActivationFunctions.silu)
            case .elu(let alpha):
                Activation.map(length, x, y) { ActivationFunctions.elu($0, alpha: alpha) }
            case .relu6:
                Activation.map(length, x, y, ActivationFunctions.relu6)
            case .hardswish:
                Activation.map(length, x, y, ActivationFunctions.hardswish)
            case .hardsigmoid:
                Activation.map(length, x, y, ActivationFunctions.hardsigmoid)
            case .mish:
                Activation.map(length, x, y, ActivationFunctions.mish)
            case .softplus(let beta, let threshold):
                Activation.map(length, x, y) { ActivationFunctions.softplus($0, beta: beta, threshold: threshold) }
            }
        }
    }

    /// Uses input or output, whichever the kind needs (`ActivationKind.backwardNeedsInput`). At
    /// kinks the gradient is PyTorch's: ReLU's at exactly 0 is 0, leaky ReLU's is the negative slope,
    /// the others as documented on `ActivationKind`.
    public static func backward(_ kind: ActivationKind, count: Int, input: UnsafePointer<Float>, output: UnsafePointer<Float>,
                                gradOutput: UnsafePointer<Float>, gradInput: UnsafeMutablePointer<Float>, pool: ThreadPool) {
        let pass = BackwardPass(kind: kind, input: input, output: output, gradOutput: gradOutput, gradInput: gradInput)
        ElementwiseChunking.forEachChunk(count, pool: pool, context: pass) { raw, start, end in
            let pass = raw.load(as: BackwardPass.self)
            let input = pass.input, output = pass.output
            let length = end - start, dy = pass.gradOutput + start, dx = pass.gradInput + start
            switch pass.kind {
            case .relu:
                Activation.combine(length, input + start, dy, dx, { x, g in ActivationFunctions.reluGradient(x, g) }, { x, g in x > 0 ? g : 0 })
            case .leakyRelu(let slope):
                Activation.combine(length, input + start, dy, dx, { x, g in g.replacing(with: g * slope, where: x .<= 0) },
                        { x, g in x > 0 ? g : g * slope })
            case .sigmoid:
                Activation.combine(length, output + start, dy, dx, { y, g in g * y * (1 - y) }, { y, g in g * y * (1 - y) })
            case .tanh:
                Activation.combine(length, output + start, dy, dx, { y, g in g * (1 - y * y) }, { y, g in g * (1 - y * y) })
            case .gelu:
                Activation.map(length, input + start, dy, dx, ActivationFunctions.geluGradient)
            case .geluTanh:
                Activation.map(length, input + start, dy, dx, ActivationFunctions.geluTanhGradient)
            case .silu:
                Activation.map(length, input + start, dy, dx, ActivationFunctions.siluGradient)
            case .elu(let alpha):
                Activation.map(length, input + start, dy, dx) { ActivationFunctions.eluGradient($0, $1, alpha: alpha) }
            case .relu6:
                Activation.map(length, output + start, dy, dx, ActivationFunctions.relu6Gradient)
            case .hardswish:
                Activation.map(length, input + start, dy, dx, ActivationFunctions.hardswishGradient)
            case .hardsigmoid:
                Activation.map(length, input + start, dy, dx, ActivationFunctions.hardsigmoidGradient)
            case .mish:
                Activation.map(length, input + start, dy, dx, ActivationFunctions.mishGradient)
            case .softplus(let beta, let threshold):
                Activation.map(length, input + start, dy, dx) {
                    ActivationFunctions.softplusGradient($0, $1, beta: beta, threshold: threshold)
                }
            }
        }
    }

    /// Written out rather than passed as a closure: the exp polynomial is then inlined into the loop.
    private static func sigmoidForward(_ count: Int, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
        var index = 0
        while index + 16 <= count {
            VectorAccess.store(VectorMath.sigmoid(VectorAccess.load16(x + index)), y + index)
            index += 16
        }
        if index < count { tail(count - index, x + index, y + index) { VectorMath.sigmoid($0) } }
    }

    private static func tanhForward(_ count: Int, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
        var index = 0
        while index + 16 <= count {
            VectorAccess.store(VectorMath.tanh(VectorAccess.load16(x + index)), y + index)
            index += 16
        }
        if index < count { tail(count - index, x + index, y + index) { VectorMath.tanh($0) } }
    }

    /// The last < 16 elements through the same vector function, via a padded copy.
    private static func tail(_ count: Int, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                             _ function: (SIMD16<Float>) -> SIMD16<Float>) {
        var lanes = SIMD16<Float>()
        for lane in 0..<count { lanes[lane] = x[lane] }
        let result = function(lanes)
        for lane in 0..<count { y[lane] = result[lane] }
    }

    /// y = f(x) over whole vectors, the last < 16 elements through the same `f` via a zero-padded
    /// copy, so every element gets bit-identical results wherever it falls.
    @inline(__always) private static func map(_ count: Int, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                                              _ function: (SIMD16<Float>) -> SIMD16<Float>) {
        var index = 0
        while index + 16 <= count {
            VectorAccess.store(function(VectorAccess.load16(x + index)), y + index)
            index += 16
        }
        if index < count { tail(count - index, x + index, y + index, function) }
    }

    /// out = f(a, g) like `map`, for gradients: `a` is the forward input or output, `g` the upstream gradient.
    @inline(__always) private static func map(_ count: Int, _ a: UnsafePointer<Float>, _ g: UnsafePointer<Float>,
                                              _ out: UnsafeMutablePointer<Float>,
                                              _ function: (SIMD16<Float>, SIMD16<Float>) -> SIMD16<Float>) {
        var index = 0
        while index + 16 <= count {
            VectorAccess.store(function(VectorAccess.load16(a + index), VectorAccess.load16(g + index)), out + index)
            index += 16
        }
        guard index < count else { return }
        var aLanes = SIMD16<Float>(), gLanes = SIMD16<Float>()
        for lane in 0..<(count - index) {
            aLanes[lane] = a[index + lane]
            gLanes[lane] = g[index + lane]
        }
        let result = function(aLanes, gLanes)
        for lane in 0..<(count - index) { out[index + lane] = result[lane] }
    }

    @inline(__always) private static func apply(_ count: Int, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                                                _ vector: (SIMD16<Float>) -> SIMD16<Float>, _ scalar: (Float) -> Float) {
        var index = 0
        while index + 16 <= count {
            VectorAccess.store(vector(VectorAccess.load16(x + index)), y + index)
            index += 16
        }
        while index < count {
            y[index] = scalar(x[index])
            index += 1
        }
    }

    @inline(__always) private static func combine(_ count: Int, _ a: UnsafePointer<Float>, _ g: UnsafePointer<Float>,
                                                  _ out: UnsafeMutablePointer<Float>,
                                                  _ vector: (SIMD16<Float>, SIMD16<Float>) -> SIMD16<Float>,
                                                  _ scalar: (Float, Float) -> Float) {
        var index = 0
        while index + 16 <= count {
            VectorAccess.store(vector(VectorAccess.load16(a + index), VectorAccess.load16(g + index)), out + index)
            index += 16
        }
        while index < count {
            out[index] = scalar(a[index], g[index])
            index += 1
        }
    }

    /// What a forward chunk task reads (C-convention tasks cannot capture).
    private struct ForwardPass {
        let kind: ActivationKind
        let input: UnsafePointer<Float>
        let output: UnsafeMutablePointer<Float>
    }

    /// What a backward chunk task reads.
    private struct BackwardPass {
        let kind: ActivationKind
        let input: UnsafePointer<Float>
        let output: UnsafePointer<Float>
        let gradOutput: UnsafePointer<Float>
        let gradInput: UnsafeMutablePointer<Float>
    }
}
