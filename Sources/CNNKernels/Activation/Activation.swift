/// Point-wise activations, forward and backward, SIMD-vectorised and split over the pool for
/// large tensors. `output` may alias `input` in forward, `gradInput` may alias `gradOutput` in backward.
public enum Activation {
    public static func forward(_ kind: ActivationKind, count: Int, input: UnsafePointer<Float>,
                               output: UnsafeMutablePointer<Float>, pool: ThreadPool) {
        ElementwiseChunking.forEachChunk(count, pool: pool) { start, length in
            let x = input + start, y = output + start
            switch kind {
            case .relu:
                apply(length, x, y, { $0.replacing(with: 0, where: $0 .< 0) }, { max($0, 0) })
            case .leakyRelu(let slope):
                apply(length, x, y, { $0.replacing(with: $0 * slope, where: $0 .< 0) }, { $0 < 0 ? $0 * slope : $0 })
            case .sigmoid:
                apply(length, x, y, VectorMath.sigmoid, scalarSigmoid)
            case .tanh:
                apply(length, x, y, VectorMath.tanh, scalarTanh)
            }
        }
    }

    /// Uses input (relu, leaky ReLU) or output (sigmoid, tanh), whichever the kind needs. As
    /// PyTorch: ReLU's gradient at exactly 0 is 0, leaky ReLU's is the negative slope.
    public static func backward(_ kind: ActivationKind, count: Int, input: UnsafePointer<Float>, output: UnsafePointer<Float>,
                                gradOutput: UnsafePointer<Float>, gradInput: UnsafeMutablePointer<Float>, pool: ThreadPool) {
        ElementwiseChunking.forEachChunk(count, pool: pool) { start, length in
            let dy = gradOutput + start, dx = gradInput + start
            switch kind {
            case .relu:
                combine(length, input + start, dy, dx, { x, g in g.replacing(with: 0, where: x .<= 0) }, { x, g in x > 0 ? g : 0 })
            case .leakyRelu(let slope):
                combine(length, input + start, dy, dx, { x, g in g.replacing(with: g * slope, where: x .<= 0) },
                        { x, g in x > 0 ? g : g * slope })
            case .sigmoid:
                combine(length, output + start, dy, dx, { y, g in g * y * (1 - y) }, { y, g in g * y * (1 - y) })
            case .tanh:
                combine(length, output + start, dy, dx, { y, g in g * (1 - y * y) }, { y, g in g * (1 - y * y) })
            }
        }
    }

    /// Scalar sigmoid through the vector path, so SIMD and tail lanes agree bit for bit.
    @inline(__always) static func scalarSigmoid(_ x: Float) -> Float { VectorMath.sigmoid(SIMD16(repeating: x))[0] }

    /// Scalar tanh through the vector path.
    @inline(__always) static func scalarTanh(_ x: Float) -> Float { VectorMath.tanh(SIMD16(repeating: x))[0] }

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
}
