/// Shape of an adaptive pooling layer (PyTorch `adaptive_avg_pool2d` / `adaptive_max_pool2d`): the
/// output size is fixed and each output cell pools its own window, cell i of n over an input side L
/// covering ⌊i·L/n⌋ ..< ⌈(i+1)·L/n⌉. Windows overlap when L is not a multiple of n.
public struct AdaptivePoolingGeometry: Hashable, Sendable {
    public var channels: Int
    public var inHeight: Int
    public var inWidth: Int
    public var outHeight: Int
    public var outWidth: Int

    public init(channels: Int, inHeight: Int, inWidth: Int, outHeight: Int, outWidth: Int) {
        self.channels = channels
        self.inHeight = inHeight
        self.inWidth = inWidth
        self.outHeight = outHeight
        self.outWidth = outWidth
    }

    var inPlane: Int { inHeight * inWidth }
    var outPlane: Int { outHeight * outWidth }

    /// Input rows pooled by output row `outRow`.
    @inline(__always) func rows(_ outRow: Int) -> Range<Int> {
        adaptiveWindow(outRow, input: inHeight, output: outHeight)
    }

    /// Input columns pooled by output column `outColumn`.
    @inline(__always) func columns(_ outColumn: Int) -> Range<Int> {
        adaptiveWindow(outColumn, input: inWidth, output: outWidth)
    }
}

/// ⌊i·input/output⌋ ..< ⌈(i+1)·input/output⌉, PyTorch's `start_index` / `end_index`.
@inline(__always) func adaptiveWindow(_ index: Int, input: Int, output: Int) -> Range<Int> {
    (index * input / output)..<(((index + 1) * input + output - 1) / output)
}

/// Adaptive average pooling over NCHW planes: each output is the mean of its window (no padding, so
/// the divisor is the window's size). Output 1×1 is global average pooling.
public enum AdaptiveAveragePooling {
    public static func forward(_ g: AdaptivePoolingGeometry, batch: Int, input: UnsafePointer<Float>,
                               output: UnsafeMutablePointer<Float>, pool: ThreadPool) {
        let pass = Pass(geometry: g, source: input, destination: output)
        forEachPoolingPlane(batch * g.channels, planeCost: g.inPlane, pool: pool, context: pass) { raw, first, end in
            let pass = raw.load(as: Pass.self)
            let g = pass.geometry
            for plane in first..<end {
                let source = pass.source + plane * g.inPlane
                let destination = pass.destination + plane * g.outPlane
                for outRow in 0..<g.outHeight {
                    let rows = g.rows(outRow)
                    for outColumn in 0..<g.outWidth {
                        let columns = g.columns(outColumn)
                        var sum: Float = 0
                        for row in rows { sum += AdaptiveAveragePooling.rowSum(source + row * g.inWidth + columns.lowerBound, columns.count) }
                        destination[outRow * g.outWidth + outColumn] = sum / Float(rows.count * columns.count)
                    }
                }
            }
        }
    }

    /// gradInput = Σ over the windows containing the element of gradOutput / window size.
    public static func backward(_ g: AdaptivePoolingGeometry, batch: Int, gradOutput: UnsafePointer<Float>,
                                gradInput: UnsafeMutablePointer<Float>, pool: ThreadPool) {
        let pass = Pass(geometry: g, source: gradOutput, destination: gradInput)
        forEachPoolingPlane(batch * g.channels, planeCost: g.inPlane, pool: pool, context: pass) { raw, first, end in
            let pass = raw.load(as: Pass.self)
            let g = pass.geometry
            for plane in first..<end {
                let gradients = pass.source + plane * g.outPlane
                let destination = pass.destination + plane * g.inPlane
                if g.outPlane == 1 {
                    // Global pooling: one window, every element gets the same share.
                    Elementwise.fill(count: g.inPlane, value: gradients[0] / Float(g.inPlane), destination)
                    continue
                }
                Elementwise.fill(count: g.inPlane, value: 0, destination)
                for outRow in 0..<g.outHeight {
                    let rows = g.rows(outRow)
                    for outColumn in 0..<g.outWidth {
                        let columns = g.columns(outColumn)
                        let share = gradients[outRow * g.outWidth + outColumn] / Float(rows.count * columns.count)
                        for row in rows {
                            let line = destination + row * g.inWidth
                            for column in columns { line[column] += share }
                        }
                    }
                }
            }
        }
    }

    /// Σ of `count` consecutive floats, 16 lanes at a time (a whole row for global pooling).
    @inline(__always) static func rowSum(_ x: UnsafePointer<Float>, _ count: Int) -> Float {
        var vector = SIMD16<Float>()
        var tail: Float = 0
        forEachVectorBlock(count) { i in vector += VectorAccess.load16(x + i) } scalar: { i in tail += x[i] }
        return vector.sum() + tail
    }

    /// What a plane task reads: forward input → output, backward gradOutput → gradInput.
    private struct Pass {
        let geometry: AdaptivePoolingGeometry
        let source: UnsafePointer<Float>
        let destination: UnsafeMutablePointer<Float>
    }
}

/// Adaptive max pooling over NCHW planes. `argmax` holds, per output, the flat index within its H×W
/// plane of the FIRST maximum of the window in row-major order (PyTorch's tie rule); a NaN wins and
/// propagates (the last NaN of the window, as PyTorch's `val > max || isnan(val)` scan).
public enum AdaptiveMaxPooling {
    public static func forward(_ g: AdaptivePoolingGeometry, batch: Int, input: UnsafePointer<Float>,
                               output: UnsafeMutablePointer<Float>, argmax: UnsafeMutablePointer<Int32>, pool: ThreadPool) {
        let pass = ArgmaxPoolingForwardPass(geometry: g, input: input, output: output, argmax: argmax)
        forEachPoolingPlane(batch * g.channels, planeCost: g.inPlane, pool: pool, context: pass) { raw, first, end in
            let pass = raw.load(as: ArgmaxPoolingForwardPass<AdaptivePoolingGeometry>.self)
            let g = pass.geometry, width = g.inWidth
            for plane in first..<end {
                let source = pass.input + plane * g.inPlane
                let destination = pass.output + plane * g.outPlane
                let indices = pass.argmax + plane * g.outPlane
                for outRow in 0..<g.outHeight {
                    let rows = g.rows(outRow)
                    for outColumn in 0..<g.outWidth {
                        let columns = g.columns(outColumn)
                        var best = -Float.infinity
                        var bestIndex = rows.lowerBound * width + columns.lowerBound
                        for row in rows {
                            for column in columns {
                                let value = source[row * width + column]
                                if value > best || value.isNaN {
                                    best = value
                                    bestIndex = row * width + column
                                }
                            }
                        }
                        destination[outRow * g.outWidth + outColumn] = best
                        indices[outRow * g.outWidth + outColumn] = Int32(truncatingIfNeeded: bestIndex)
                    }
                }
            }
        }
    }

    /// gradInput = Σ gradOutput routed to each window's argmax (overlapping windows accumulate).
    public static func backward(_ g: AdaptivePoolingGeometry, batch: Int, gradOutput: UnsafePointer<Float>,
                                argmax: UnsafePointer<Int32>, gradInput: UnsafeMutablePointer<Float>, pool: ThreadPool) {
        let pass = ArgmaxPoolingBackwardPass(geometry: g, gradOutput: gradOutput, argmax: argmax, gradInput: gradInput)
        forEachPoolingPlane(batch * g.channels, planeCost: g.inPlane, pool: pool, context: pass) { raw, first, end in
            let pass = raw.load(as: ArgmaxPoolingBackwardPass<AdaptivePoolingGeometry>.self)
            let g = pass.geometry
            for plane in first..<end {
                let gradients = pass.gradOutput + plane * g.outPlane
                let indices = pass.argmax + plane * g.outPlane
                let destination = pass.gradInput + plane * g.inPlane
                Elementwise.fill(count: g.inPlane, value: 0, destination)
                for index in 0..<g.outPlane { destination[Int(indices[index])] += gradients[index] }
            }
        }
    }
}
