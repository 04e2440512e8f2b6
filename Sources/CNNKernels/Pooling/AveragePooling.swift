/// Average pooling over NCHW planes (PyTorch `avg_pool2d`, floor or ceil mode).
///
/// With `countIncludePad` the divisor is the window clipped to the padded input (PyTorch's
/// `count_include_pad=True`); without it, the number of real input elements in the window.
public enum AveragePooling {
    public static func forward(_ g: PoolingGeometry, batch: Int, countIncludePad: Bool, input: UnsafePointer<Float>,
                               output: UnsafeMutablePointer<Float>, pool: ThreadPool) {
        let pass = Pass(geometry: g, countIncludePad: countIncludePad, source: input, destination: output)
        forEachPoolingPlane(batch * g.channels, planeCost: g.inPlane, pool: pool, context: pass) { raw, first, end in
            let pass = raw.load(as: Pass.self)
            let g = pass.geometry, inPlane = g.inPlane, outPlane = g.outPlane
            let fast = g.isTwoByTwoStrideTwo, countIncludePad = pass.countIncludePad
            for plane in first..<end {
                let source = pass.source + plane * inPlane
                let destination = pass.destination + plane * outPlane
                if fast {
                    AveragePooling.forwardTwoByTwoPlane(g, source, destination)
                    continue
                }
                for outRow in 0..<g.outHeight {
                    for outColumn in 0..<g.outWidth {
                        let window = g.window(outRow: outRow, outColumn: outColumn)
                        var sum: Float = 0
                        for row in window.rows {
                            for column in window.columns { sum += source[row * g.inWidth + column] }
                        }
                        destination[outRow * g.outWidth + outColumn] =
                            sum / AveragePooling.divisor(g, outRow, outColumn, countIncludePad)
                    }
                }
            }
        }
    }

    /// gradInput = Σ over windows containing the element of gradOutput / divisor.
    public static func backward(_ g: PoolingGeometry, batch: Int, countIncludePad: Bool, gradOutput: UnsafePointer<Float>,
                                gradInput: UnsafeMutablePointer<Float>, pool: ThreadPool) {
        let pass = Pass(geometry: g, countIncludePad: countIncludePad, source: gradOutput, destination: gradInput)
        forEachPoolingPlane(batch * g.channels, planeCost: g.inPlane, pool: pool, context: pass) { raw, first, end in
            let pass = raw.load(as: Pass.self)
            let g = pass.geometry, inPlane = g.inPlane, outPlane = g.outPlane
            let fast = g.isTwoByTwoStrideTwo, countIncludePad = pass.countIncludePad
            for plane in first..<end {
                let gradients = pass.source + plane * outPlane
                let destination = pass.destination + plane * inPlane
                if fast {
                    AveragePooling.backwardTwoByTwoPlane(g, gradients, destination)
                    continue
                }
                Elementwise.fill(count: inPlane, value: 0, destination)
                for outRow in 0..<g.outHeight {
                    for outColumn in 0..<g.outWidth {
                        let window = g.window(outRow: outRow, outColumn: outColumn)
                        let share = gradients[outRow * g.outWidth + outColumn]
                            / AveragePooling.divisor(g, outRow, outColumn, countIncludePad)
                        for row in window.rows {
                            for column in window.columns { destination[row * g.inWidth + column] += share }
                        }
                    }
                }
            }
        }
    }

    /// PyTorch's divisor: the window clipped to H + P (padded extent) or to the real input. In ceil
    /// mode the last window may reach past H + P; that overhang is never counted, even with
    /// `countIncludePad` (PyTorch clips to the padded extent before taking the pool size).
    @inline(__always) static func divisor(_ g: PoolingGeometry, _ outRow: Int, _ outColumn: Int, _ countIncludePad: Bool) -> Float {
        let rowStart = outRow * g.strideHeight - g.paddingHeight
        let columnStart = outColumn * g.strideWidth - g.paddingWidth
        if countIncludePad {
            let rows = min(rowStart + g.kernelHeight, g.inHeight + g.paddingHeight) - rowStart
            let columns = min(columnStart + g.kernelWidth, g.inWidth + g.paddingWidth) - columnStart
            return Float(rows * columns)
        }
        let window = g.window(outRow: outRow, outColumn: outColumn)
        return Float(window.rows.count * window.columns.count)
    }

    /// 2×2 stride 2 forward: ((top-left + top-right) + (bottom-left + bottom-right)) / 4, in blocks of
    /// 16, 8 or 4 outputs (`forEachTwoByTwoBlock`: narrow rows are vectorised too; every block adds in
    /// the scalar order, so all widths give the same bits). `applyingReLU` averages max(x, 0) instead
    /// (the fused ReLU → avgpool; same summation order).
    @inline(__always)
    static func forwardTwoByTwoPlane(_ g: PoolingGeometry, _ source: UnsafePointer<Float>, _ destination: UnsafeMutablePointer<Float>,
                                     applyingReLU: Bool = false) {
        @inline(__always) func value(_ x: Float) -> Float { applyingReLU ? max(x, 0) : x }
        @inline(__always) func row32(_ v: SIMD32<Float>) -> SIMD32<Float> { applyingReLU ? v.replacing(with: 0, where: v .< 0) : v }
        @inline(__always) func row16(_ v: SIMD16<Float>) -> SIMD16<Float> { applyingReLU ? v.replacing(with: 0, where: v .< 0) : v }
        @inline(__always) func row8(_ v: SIMD8<Float>) -> SIMD8<Float> { applyingReLU ? v.replacing(with: 0, where: v .< 0) : v }
        let width = g.inWidth, outWidth = g.outWidth
        for outRow in 0..<g.outHeight {
            let top = source + 2 * outRow * width
            let bottom = top + width
            let out = destination + outRow * outWidth
            forEachTwoByTwoBlock(outWidth, sixteen: { column in
                let upper = row32(VectorAccess.load32(top + 2 * column))
                let lower = row32(VectorAccess.load32(bottom + 2 * column))
                let sum = (upper.evenHalf + upper.oddHalf) + (lower.evenHalf + lower.oddHalf)
                VectorAccess.store(sum * 0.25, out + column)
            }, eight: { column in
                let upper = row16(VectorAccess.load16(top + 2 * column))
                let lower = row16(VectorAccess.load16(bottom + 2 * column))
                let sum = (upper.evenHalf + upper.oddHalf) + (lower.evenHalf + lower.oddHalf)
                VectorAccess.store(sum * 0.25, out + column)
            }, four: { column in
                let upper = row8(VectorAccess.load8(top + 2 * column))
                let lower = row8(VectorAccess.load8(bottom + 2 * column))
                let sum = (upper.evenHalf + upper.oddHalf) + (lower.evenHalf + lower.oddHalf)
                VectorAccess.store(sum * 0.25, out + column)
            }, one: { column in
                let left = 2 * column
                out[column] = ((value(top[left]) + value(top[left + 1])) + (value(bottom[left]) + value(bottom[left + 1]))) * 0.25
            })
        }
    }

    /// 2×2 stride 2 backward: each input element of a window gets a quarter of its gradient, written
    /// once (rows and columns cut off by floor mode get 0), with no zeroing pass; blocks of 16, 8 or
    /// 4 windows as the forward.
    static func backwardTwoByTwoPlane(_ g: PoolingGeometry, _ gradients: UnsafePointer<Float>, _ destination: UnsafeMutablePointer<Float>) {
        let width = g.inWidth, outWidth = g.outWidth
        for outRow in 0..<g.outHeight {
            let top = destination + 2 * outRow * width
            let bottom = top + width
            let rowGradients = gradients + outRow * outWidth
            forEachTwoByTwoBlock(outWidth, sixteen: { column in
                let spread = (VectorAccess.load16(rowGradients + column) * 0.25).duplicatingEachLane
                VectorAccess.store(spread, top + 2 * column)
                VectorAccess.store(spread, bottom + 2 * column)
            }, eight: { column in
                let spread = (VectorAccess.load8(rowGradients + column) * 0.25).duplicatingEachLane
                VectorAccess.store(spread, top + 2 * column)
                VectorAccess.store(spread, bottom + 2 * column)
            }, four: { column in
                let spread = (VectorAccess.load4(rowGradients + column) * 0.25).duplicatingEachLane
                VectorAccess.store(spread, top + 2 * column)
                VectorAccess.store(spread, bottom + 2 * column)
            }, one: { column in
                let share = rowGradients[column] * 0.25
                top[2 * column] = share
                top[2 * column + 1] = share
                bottom[2 * column] = share
                bottom[2 * column + 1] = share
            })
        }
        g.zeroTwoByTwoRemainder(destination)
    }

    /// What a plane task reads (C-convention tasks cannot capture): forward reads `source` = input and
    /// writes `destination` = output; backward reads gradOutput and writes gradInput.
    private struct Pass {
        let geometry: PoolingGeometry
        let countIncludePad: Bool
        let source: UnsafePointer<Float>
        let destination: UnsafeMutablePointer<Float>
    }
}
