/// Parameters of PyTorch `nn.LocalResponseNorm(size, alpha, beta, k)`; `size` ≥ 1 (the caller validates).
public struct LocalResponseNormParameters: Hashable, Sendable {
    public var size: Int
    public var alpha: Float
    public var beta: Float
    public var k: Float

    public init(size: Int, alpha: Float = 1e-4, beta: Float = 0.75, k: Float = 1) {
        self.size = size
        self.alpha = alpha
        self.beta = beta
        self.k = k
    }

    /// Channels of the window before the centre: PyTorch pads size/2 zero channels in front…
    var before: Int { size / 2 }
    /// …and (size − 1)/2 behind, so an even window leans towards lower channels.
    var after: Int { (size - 1) / 2 }
}

/// Local response normalisation across channels of NCHW tensors, as PyTorch computes it
/// (`F.local_response_norm`: avg_pool3d of x² over zero-padded channels, count_include_pad):
///
///   s_c = k + alpha/size · Σ_{c' = c − size/2 … c + (size−1)/2, 0 ≤ c' < C} x_{c'}²,   y_c = x_c · s_c^{−beta}
///
/// — the divisor is `size` even where the window is clipped at the first and last channels.
/// Vectorised over 16 spatial positions at a time, threaded over (image, block of 16 positions).
public enum LocalResponseNorm {
    /// `output` must not alias `input` (each output reads its neighbouring channels).
    public static func forward(_ parameters: LocalResponseNormParameters, batch: Int, channels: Int, spatial: Int,
                               input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, pool: ThreadPool) {
        let pass = Pass(parameters: parameters, channels: channels, spatial: spatial, input: input, gradOutput: input,
                        destination: output)
        pool.parallelFor(batch * pass.blocks, minimumChunk: pass.minimumChunk, context: pass) { raw, first, end in
            let pass = raw.load(as: Pass.self)
            for task in first..<end { pass.forward(task) }
        }
    }

    /// dL/dx_j = g_j·s_j^{−β} − (2·alpha·beta/size)·x_j·Σ_{c : j in window(c)} g_c·x_c·s_c^{−β−1}.
    /// Recomputes s from `input` (no saved state). `gradInput` must not alias `gradOutput` or `input`.
    public static func backward(_ parameters: LocalResponseNormParameters, batch: Int, channels: Int, spatial: Int,
                                input: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>,
                                gradInput: UnsafeMutablePointer<Float>, pool: ThreadPool) {
        let pass = Pass(parameters: parameters, channels: channels, spatial: spatial, input: input, gradOutput: gradOutput,
                        destination: gradInput)
        pool.parallelFor(batch * pass.blocks, minimumChunk: pass.minimumChunk, context: pass) { raw, first, end in
            let pass = raw.load(as: Pass.self)
            for task in first..<end { pass.backward(task) }
        }
    }

    /// What a task reads; task t is image t / blocks, spatial positions 16·(t % blocks) ..< +16.
    /// Forward writes `destination` = output, backward `destination` = gradInput.
    private struct Pass {
        let parameters: LocalResponseNormParameters
        let channels: Int, spatial: Int
        let input: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>
        let destination: UnsafeMutablePointer<Float>

        var blocks: Int { (spatial + 15) / 16 }
        /// About ElementwiseChunking.minimumChunk multiply-adds of window work per chunk.
        var minimumChunk: Int { max(1, ElementwiseChunking.minimumChunk / (16 * max(1, channels * parameters.size))) }

        /// Start of the block's first channel row and the number of valid lanes (16 except at the end).
        @inline(__always) func block(_ task: Int) -> (offset: Int, lanes: Int) {
            let image = task / blocks, start = (task % blocks) * 16
            return (image * channels * spatial + start, min(16, spatial - start))
        }

        @inline(__always) func load(_ pointer: UnsafePointer<Float>, _ lanes: Int) -> SIMD16<Float> {
            if lanes == 16 { return VectorAccess.load16(pointer) }
            var vector = SIMD16<Float>()
            for lane in 0..<lanes { vector[lane] = pointer[lane] }
            return vector
        }

        @inline(__always) func store(_ vector: SIMD16<Float>, _ pointer: UnsafeMutablePointer<Float>, _ lanes: Int) {
            if lanes == 16 { return VectorAccess.store(vector, pointer) }
            for lane in 0..<lanes { pointer[lane] = vector[lane] }
        }

        /// Channels whose squares enter s_c: c − size/2 … c + (size−1)/2, clipped to the tensor.
        @inline(__always) func window(_ channel: Int) -> ClosedRange<Int> {
            max(0, channel - parameters.before)...min(channels - 1, channel + parameters.after)
        }

        /// s_c for 16 positions of one image (`x` at its channel 0).
        @inline(__always) func scale(_ x: UnsafePointer<Float>, channel: Int, lanes: Int) -> SIMD16<Float> {
            var squares = SIMD16<Float>()
            for neighbour in window(channel) {
                let value = load(x + neighbour * spatial, lanes)
                squares = squares.addingProduct(value, value)
            }
            return SIMD16(repeating: parameters.k).addingProduct(squares, parameters.alpha / Float(parameters.size))
        }

        /// s^{−β} = e^{−β·ln s}.
        @inline(__always) func inversePower(_ s: SIMD16<Float>) -> SIMD16<Float> {
            VectorMath.exp(VectorMath.log(s) * -parameters.beta)
        }

        func forward(_ task: Int) {
            let (offset, lanes) = block(task)
            let x = input + offset, y = destination + offset
            for channel in 0..<channels {
                let factor = inversePower(scale(x, channel: channel, lanes: lanes))
                store(load(x + channel * spatial, lanes) * factor, y + channel * spatial, lanes)
            }
        }

        /// Scatter form: channel c adds its direct term to dx_c and its share through s_c to every
        /// dx_j of its window, so each s_c is computed once and no workspace is needed.
        func backward(_ task: Int) {
            let (offset, lanes) = block(task)
            let x = input + offset, dy = gradOutput + offset, dx = destination + offset
            for channel in 0..<channels { store(SIMD16(), dx + channel * spatial, lanes) }
            let windowFactor = -2 * parameters.alpha * parameters.beta / Float(parameters.size)
            for channel in 0..<channels {
                let s = scale(x, channel: channel, lanes: lanes)
                let factor = inversePower(s)
                let gradient = load(dy + channel * spatial, lanes)
                let row = dx + channel * spatial
                store(load(row, lanes).addingProduct(gradient, factor), row, lanes)
                let share = gradient * load(x + channel * spatial, lanes) * factor / s * windowFactor
                for neighbour in window(channel) {
                    let target = dx + neighbour * spatial
                    store(load(target, lanes).addingProduct(share, load(x + neighbour * spatial, lanes)), target, lanes)
                }
            }
        }
    }
}
