/// Max pooling over NCHW planes (PyTorch `max_pool2d`, floor or ceil mode, padding acts as −inf).
public enum MaxPooling {
    /// `argmax` receives, per output element, the flat index (within its H×W plane) of the FIRST
    /// maximum of the window, as PyTorch; a NaN in the window wins (and propagates) like PyTorch.
    public static func forward(_ g: PoolingGeometry, batch: Int, input: UnsafePointer<Float>,
                               output: UnsafeMutablePointer<Float>, argmax: UnsafeMutablePointer<Int32>, pool: ThreadPool) {
        let pass = ArgmaxPoolingForwardPass(geometry: g, input: input, output: output, argmax: argmax)
        forEachPoolingPlane(batch * g.channels, planeCost: g.inPlane, pool: pool, context: pass) { raw, first, end in
            let pass = raw.load(as: ArgmaxPoolingForwardPass<PoolingGeometry>.self)
            let g = pass.geometry, inPlane = g.inPlane, outPlane = g.outPlane
            let fast = g.isTwoByTwoStrideTwo
            for plane in first..<end {
                let source = pass.input + plane * inPlane
                let destination = pass.output + plane * outPlane
                let indices = pass.argmax + plane * outPlane
                if fast {
                    MaxPooling.forwardTwoByTwoPlane(g, source, destination, indices)
                } else {
                    MaxPooling.forwardGenericPlane(g, source, destination, indices)
                }
            }
        }
    }

    /// gradInput = Σ gradOutput routed to each window's argmax (overlapping windows accumulate).
    public static func backward(_ g: PoolingGeometry, batch: Int, gradOutput: UnsafePointer<Float>,
                                argmax: UnsafePointer<Int32>, gradInput: UnsafeMutablePointer<Float>, pool: ThreadPool) {
        let pass = ArgmaxPoolingBackwardPass(geometry: g, gradOutput: gradOutput, argmax: argmax, gradInput: gradInput)
        forEachPoolingPlane(batch * g.channels, planeCost: g.inPlane, pool: pool, context: pass) { raw, first, end in
            let pass = raw.load(as: ArgmaxPoolingBackwardPass<PoolingGeometry>.self)
            let g = pass.geometry, inPlane = g.inPlane, outPlane = g.outPlane
            let fast = g.isTwoByTwoStrideTwo
            for plane in first..<end {
                let gradients = pass.gradOutput + plane * outPlane
                let indices = pass.argmax + plane * outPlane
                let destination = pass.gradInput + plane * inPlane
                if fast {
                    MaxPooling.backwardTwoByTwoPlane(g, gradients, indices, destination)
                } else {
                    Elementwise.fill(count: inPlane, value: 0, destination)
                    for index in 0..<outPlane { destination[Int(indices[index])] += gradients[index] }
                }
            }
        }
    }

    /// Lane by lane, takes `value` and its `position` where it beats `best` or is NaN: PyTorch's first
    /// maximum in scan order, NaN winning.
    @inline(__always)
    /// The blend goes through the mask's bits (`a ^ ((a ^ b) & mask)`): `replace(with:where:)` is generic
    /// code that the optimizer would not inline into the pooling loops, and that can compile to a loop over
    /// the lanes where it is.
    static func keepFirstMaximum(_ value: SIMD16<Float>, at position: SIMD16<Int32>, _ best: inout SIMD16<Float>,
                                 _ index: inout SIMD16<Int32>) {
        let take = ((value .> best) .| (value .!= value))._storage
        let bits = unsafeBitCast(best, to: SIMD16<Int32>.self)
        best = unsafeBitCast(bits ^ ((bits ^ unsafeBitCast(value, to: SIMD16<Int32>.self)) & take), to: SIMD16<Float>.self)
        index ^= (index ^ position) & take
    }

    /// Reference path for any window: scans each clipped window in row-major order.
    static func forwardGenericPlane(_ g: PoolingGeometry, _ source: UnsafePointer<Float>,
                                    _ destination: UnsafeMutablePointer<Float>, _ indices: UnsafeMutablePointer<Int32>) {
        let width = g.inWidth
        for outRow in 0..<g.outHeight {
            for outColumn in 0..<g.outWidth {
                let window = g.window(outRow: outRow, outColumn: outColumn)
                var best = -Float.infinity
                var bestIndex = window.rows.lowerBound * width + window.columns.lowerBound
                for row in window.rows {
                    for column in window.columns {
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

    /// 2×2 stride 2: each output row reads two input rows; 16 outputs at a time deinterleave 32
    /// floats of each row into even/odd columns and take the first maximum of the four candidates.
    static func forwardTwoByTwoPlane(_ g: PoolingGeometry, _ source: UnsafePointer<Float>,
                                     _ destination: UnsafeMutablePointer<Float>, _ indices: UnsafeMutablePointer<Int32>) {
        let width = g.inWidth, outWidth = g.outWidth
        let lanePairs = SIMD16<Int32>(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30)
        let width32 = Int32(width)
        for outRow in 0..<g.outHeight {
            let top = source + 2 * outRow * width
            let bottom = top + width
            let out = destination + outRow * outWidth
            let outIndices = indices + outRow * outWidth
            let rowBase = Int32(2 * outRow * width)
            var column = 0
            while column + 16 <= outWidth {
                let upper = VectorAccess.load32(top + 2 * column)
                let lower = VectorAccess.load32(bottom + 2 * column)
                var best = upper.evenHalf
                let topIndex = lanePairs &+ (rowBase + Int32(2 * column))
                var index = topIndex
                keepFirstMaximum(upper.oddHalf, at: topIndex &+ 1, &best, &index)
                let bottomIndex = lanePairs &+ (rowBase + width32 + Int32(2 * column))
                keepFirstMaximum(lower.evenHalf, at: bottomIndex, &best, &index)
                keepFirstMaximum(lower.oddHalf, at: bottomIndex &+ 1, &best, &index)
                VectorAccess.store(best, out + column)
                VectorAccess.store(index, outIndices + column)
                column += 16
            }
            while column < outWidth {
                let left = 2 * column
                var best = top[left]
                var index = Int32(truncatingIfNeeded: 2 * outRow * width + left)
                let candidates = (top[left + 1], bottom[left], bottom[left + 1])
                if candidates.0 > best || candidates.0.isNaN { best = candidates.0; index = rowBase + Int32(left + 1) }
                if candidates.1 > best || candidates.1.isNaN { best = candidates.1; index = rowBase + width32 + Int32(left) }
                if candidates.2 > best || candidates.2.isNaN { best = candidates.2; index = rowBase + width32 + Int32(left + 1) }
                out[column] = best
                outIndices[column] = index
                column += 1
            }
        }
    }

    /// 2×2 stride 2 backward: windows do not overlap, so every input element is written once —
    /// the gradient where it is its window's argmax, else 0 — with no separate zeroing pass. Rows of
    /// any width run in vector blocks (`forEachTwoByTwoBlock`); `destination` must not overlap the
    /// gradients or indices.
    static func backwardTwoByTwoPlane(_ g: PoolingGeometry, _ gradients: UnsafePointer<Float>,
                                      _ indices: UnsafePointer<Int32>, _ destination: UnsafeMutablePointer<Float>) {
        let width = g.inWidth, outWidth = g.outWidth
        let lanes = SIMD32<Int32>(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
                                  16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31)
        let lanes16 = lanes.lowHalf, lanes8 = lanes16.lowHalf
        let zero = SIMD32<Float>()
        for outRow in 0..<g.outHeight {
            let top = destination + 2 * outRow * width
            let bottom = top + width
            let rowGradients = gradients + outRow * outWidth
            let rowIndices = indices + outRow * outWidth
            let rowBase = 2 * outRow * width
            forEachTwoByTwoBlock(outWidth, sixteen: { column in
                let spreadGradient = VectorAccess.load16(rowGradients + column).duplicatingEachLane
                let spreadIndex = VectorAccess.loadIndices16(rowIndices + column).duplicatingEachLane
                let topPositions = lanes &+ Int32(rowBase + 2 * column)
                let bottomPositions = topPositions &+ Int32(width)
                VectorAccess.store(zero.replacing(with: spreadGradient, where: spreadIndex .== topPositions), top + 2 * column)
                VectorAccess.store(zero.replacing(with: spreadGradient, where: spreadIndex .== bottomPositions), bottom + 2 * column)
            }, eight: { column in
                let spreadGradient = VectorAccess.load8(rowGradients + column).duplicatingEachLane
                let spreadIndex = VectorAccess.loadIndices8(rowIndices + column).duplicatingEachLane
                let topPositions = lanes16 &+ Int32(rowBase + 2 * column)
                let bottomPositions = topPositions &+ Int32(width)
                VectorAccess.store(zero.lowHalf.replacing(with: spreadGradient, where: spreadIndex .== topPositions), top + 2 * column)
                VectorAccess.store(zero.lowHalf.replacing(with: spreadGradient, where: spreadIndex .== bottomPositions),
                                   bottom + 2 * column)
            }, four: { column in
                let spreadGradient = VectorAccess.load4(rowGradients + column).duplicatingEachLane
                let spreadIndex = VectorAccess.loadIndices4(rowIndices + column).duplicatingEachLane
                let topPositions = lanes8 &+ Int32(rowBase + 2 * column)
                let bottomPositions = topPositions &+ Int32(width)
                let zero8 = SIMD8<Float>()
                VectorAccess.store(zero8.replacing(with: spreadGradient, where: spreadIndex .== topPositions), top + 2 * column)
                VectorAccess.store(zero8.replacing(with: spreadGradient, where: spreadIndex .== bottomPositions), bottom + 2 * column)
            }, one: { column in
                let left = 2 * column
                let base = rowBase + left
                let gradient = rowGradients[column]
                let index = Int(rowIndices[column])
                top[left] = index == base ? gradient : 0
                top[left + 1] = index == base + 1 ? gradient : 0
                bottom[left] = index == base + width ? gradient : 0
                bottom[left + 1] = index == base + width + 1 ? gradient : 0
            })
        }
        g.zeroTwoByTwoRemainder(destination)
    }
}

/// Walks the `outWidth` outputs of one 2×2 stride-2 row in vector blocks, so rows narrower than 16
/// (Model B's 14 and 7) are vectorised too: 16 at a time, then for a remainder one more 16-block
/// ending at the row's end; a row of 8…15 takes an 8-block at 0 and one ending at the row's end,
/// 4…7 the same with 4-blocks, and only rows of 1…3 outputs run `one` per output.
///
/// A last block overlaps the one before it and recomputes the overlapped outputs from the same inputs
/// in the same order, rewriting identical values — so each block must write a pure function of what
/// it reads (no accumulation), and never write memory it (or a later block) reads. Blocks never
/// reach outside `0..<outWidth`, hence outside the row pair's `2·outWidth` input columns.
@inline(__always)
func forEachTwoByTwoBlock(_ outWidth: Int, sixteen: (Int) -> Void, eight: (Int) -> Void, four: (Int) -> Void,
                          one: (Int) -> Void) {
    if outWidth >= 16 {
        var column = 0
        while column + 16 <= outWidth {
            sixteen(column)
            column += 16
        }
        if column < outWidth { sixteen(outWidth - 16) }
    } else if outWidth >= 8 {
        eight(0)
        if outWidth > 8 { eight(outWidth - 8) }
    } else if outWidth >= 4 {
        four(0)
        if outWidth > 4 { four(outWidth - 4) }
    } else {
        for column in 0..<outWidth { one(column) }
    }
}

extension SIMD16 {
    /// (v0, v0, v1, v1, …, v15, v15): each lane twice, for spreading one value per 2-wide window.
    @inline(__always) var duplicatingEachLane: SIMD32<Scalar> {
        SIMD32(self[0], self[0], self[1], self[1], self[2], self[2], self[3], self[3],
               self[4], self[4], self[5], self[5], self[6], self[6], self[7], self[7],
               self[8], self[8], self[9], self[9], self[10], self[10], self[11], self[11],
               self[12], self[12], self[13], self[13], self[14], self[14], self[15], self[15])
    }
}

extension SIMD8 {
    /// (v0, v0, v1, v1, …, v7, v7): `SIMD16.duplicatingEachLane` for 8-output blocks.
    @inline(__always) var duplicatingEachLane: SIMD16<Scalar> {
        SIMD16(self[0], self[0], self[1], self[1], self[2], self[2], self[3], self[3],
               self[4], self[4], self[5], self[5], self[6], self[6], self[7], self[7])
    }
}

extension SIMD4 {
    /// (v0, v0, v1, v1, v2, v2, v3, v3): `SIMD16.duplicatingEachLane` for 4-output blocks.
    @inline(__always) var duplicatingEachLane: SIMD8<Scalar> {
        SIMD8(self[0], self[0], self[1], self[1], self[2], self[2], self[3], self[3])
    }
}
