/// The wide grid's passes (`WideGrid`, one image at a time): the forward convolution and the data gradient
/// (`convolve`) and the weight gradient (`correlate`), in the kernel target's tiles (`wideVectors`, `wideTaps`).
enum WideConvolution {
    /// Output channels of a block: the direct backend's packed weights, shared with the lanes layout.
    static let blockChannels = LaneConvolution.blockChannels
    /// The most taps any target's `correlate` tile holds.
    static let maximumTaps = 4
    /// `correlate` sums the grid in whole groups of this many floats (the gradient is zero beyond the grid).
    static let correlationGroup = 16

    /// y[j][q] = Σ_ci Σ_kh,kw weights[((ci·KH + kh)·KW + kw)·4 + j] · x[ci·plane + q + kh·D_h·width + kw·D_w]
    /// for the 4 output channels j of one block and every q < grid.paddedOutput, in `target`'s tile:
    /// 4 channels × `wideVectors` vectors of pixels.
    static func convolve(grid: WideGrid, channels: Int, x: UnsafePointer<Float>, weights: UnsafePointer<Float>,
                         y: UnsafeMutablePointer<Float>, target: KernelTarget) {
        target.visit(Convolve(grid: grid, channels: channels, x: x, weights: weights, y: y))
    }

    private struct Convolve: KernelTargetVisitor {
        let grid: WideGrid, channels: Int, x: UnsafePointer<Float>, weights: UnsafePointer<Float>
        let y: UnsafeMutablePointer<Float>

        func visit<Spec: KernelTargetSpec>(_ spec: Spec.Type) {
            WideConvolution.convolve(Spec.Vector.self, vectors: Spec.wideVectors, grid: grid, channels: channels, x: x,
                                     weights: weights, y: y)
        }
    }

    @inline(__always)
    private static func convolve<V: SIMD>(_: V.Type, vectors: Int, grid: WideGrid, channels: Int, x: UnsafePointer<Float>,
                                          weights: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>)
    where V.Scalar == Float {
        precondition(vectors >= 1 && vectors <= 4 && WideGrid.blockPixels % (vectors * V.scalarCount) == 0,
                     "wide tile")  // invariant: the targets' constants
        let kh = grid.kernelHeight, kw = grid.kernelWidth, width = grid.width, plane = grid.plane
        let stride = grid.paddedOutput, step = vectors * V.scalarCount
        let rowStep = grid.dilationHeight * width, columnBytes = 4 * grid.dilationWidth
        let v1 = MemoryLayout<V>.stride, v2 = 2 * v1, v3 = 3 * v1
        var q0 = 0
        while q0 < stride {
            var a00 = V(), a01 = V(), a02 = V(), a03 = V()
            var a10 = V(), a11 = V(), a12 = V(), a13 = V()
            var a20 = V(), a21 = V(), a22 = V(), a23 = V()
            var a30 = V(), a31 = V(), a32 = V(), a33 = V()
            var w = weights
            for ci in 0..<channels {
                let channel = x + ci * plane + q0
                for r in 0..<kh {
                    let line = UnsafeRawPointer(channel + r * rowStep)
                    for c in 0..<kw {
                        let p = line + columnBytes * c
                        let x0 = p.loadUnaligned(as: V.self)
                        let x1 = vectors > 1 ? p.loadUnaligned(fromByteOffset: v1, as: V.self) : V()
                        let x2 = vectors > 2 ? p.loadUnaligned(fromByteOffset: v2, as: V.self) : V()
                        let x3 = vectors > 3 ? p.loadUnaligned(fromByteOffset: v3, as: V.self) : V()
                        @inline(__always) func add(_ weight: Float, _ a0: inout V, _ a1: inout V, _ a2: inout V, _ a3: inout V) {
                            let s = V(repeating: weight)
                            a0 = a0.addingProduct(s, x0)
                            if vectors > 1 { a1 = a1.addingProduct(s, x1) }
                            if vectors > 2 { a2 = a2.addingProduct(s, x2) }
                            if vectors > 3 { a3 = a3.addingProduct(s, x3) }
                        }
                        add(w[0], &a00, &a01, &a02, &a03)
                        add(w[1], &a10, &a11, &a12, &a13)
                        add(w[2], &a20, &a21, &a22, &a23)
                        add(w[3], &a30, &a31, &a32, &a33)
                        w += blockChannels
                    }
                }
            }
            let out = UnsafeMutableRawPointer(y + q0)
            let rowBytes = 4 * stride
            @inline(__always) func store(_ row: Int, _ a0: V, _ a1: V, _ a2: V, _ a3: V) {
                let line = out + row * rowBytes
                line.storeBytes(of: a0, as: V.self)
                if vectors > 1 { line.storeBytes(of: a1, toByteOffset: v1, as: V.self) }
                if vectors > 2 { line.storeBytes(of: a2, toByteOffset: v2, as: V.self) }
                if vectors > 3 { line.storeBytes(of: a3, toByteOffset: v3, as: V.self) }
            }
            store(0, a00, a01, a02, a03)
            store(1, a10, a11, a12, a13)
            store(2, a20, a21, a22, a23)
            store(3, a30, a31, a32, a33)
            q0 += step
        }
    }

    /// partial[(co·channels + ci)·KH·KW + kh·KW + kw] += Σ_q g[co][q] · x[ci·plane + q + kh·D_h·width + kw·D_w]
    /// for co < outChannels; `g` holds `blocks·4` channels of `grid.paddedOutput` values (zero off the grid).
    /// `target`'s tile: 4 gradient channels × `wideTaps` taps of a kernel row, one vector accumulator each.
    static func correlate(grid: WideGrid, channels: Int, outChannels: Int, x: UnsafePointer<Float>,
                          g: UnsafePointer<Float>, partial: UnsafeMutablePointer<Float>, target: KernelTarget) {
        target.visit(Correlate(grid: grid, channels: channels, outChannels: outChannels, x: x, g: g, partial: partial))
    }

    private struct Correlate: KernelTargetVisitor {
        let grid: WideGrid, channels: Int, outChannels: Int, x: UnsafePointer<Float>, g: UnsafePointer<Float>
        let partial: UnsafeMutablePointer<Float>

        func visit<Spec: KernelTargetSpec>(_ spec: Spec.Type) {
            WideConvolution.correlate(Spec.Vector.self, taps: Spec.wideTaps, grid: grid, channels: channels,
                                      outChannels: outChannels, x: x, g: g, partial: partial)
        }
    }

    @inline(__always)
    private static func correlate<V: SIMD>(_: V.Type, taps tileTaps: Int, grid: WideGrid, channels: Int, outChannels: Int,
                                           x: UnsafePointer<Float>, g: UnsafePointer<Float>,
                                           partial: UnsafeMutablePointer<Float>) where V.Scalar == Float {
        precondition(tileTaps >= 1 && tileTaps <= maximumTaps && correlationGroup % V.scalarCount == 0,
                     "wide correlation tile")  // invariant: the targets' constants
        let kh = grid.kernelHeight, kw = grid.kernelWidth, width = grid.width, plane = grid.plane
        let stride = grid.paddedOutput
        let taps = kh * kw
        let dh = grid.dilationHeight, dw = grid.dilationWidth, b1 = 4 * dw, b2 = 8 * dw, b3 = 12 * dw
        let used = (grid.outRows * width + correlationGroup - 1) / correlationGroup * correlationGroup
        let vector = V.scalarCount
        for block in 0..<((outChannels + blockChannels - 1) / blockChannels) {
            let g0 = UnsafeRawPointer(g + blockChannels * block * stride)
            let rowBytes = 4 * stride
            for ci in 0..<channels {
                for r in 0..<kh {
                    var c0 = 0
                    while c0 < kw {
                        var a00 = V(), a01 = V(), a02 = V(), a03 = V()
                        var a10 = V(), a11 = V(), a12 = V(), a13 = V()
                        var a20 = V(), a21 = V(), a22 = V(), a23 = V()
                        var a30 = V(), a31 = V(), a32 = V(), a33 = V()
                        let base = UnsafeRawPointer(x + ci * plane + r * dh * width + c0 * dw)
                        var q = 0
                        while q < used {
                            let byte = 4 * q
                            let g0v = g0.loadUnaligned(fromByteOffset: byte, as: V.self)
                            let g1v = g0.loadUnaligned(fromByteOffset: byte + rowBytes, as: V.self)
                            let g2v = g0.loadUnaligned(fromByteOffset: byte + 2 * rowBytes, as: V.self)
                            let g3v = g0.loadUnaligned(fromByteOffset: byte + 3 * rowBytes, as: V.self)
                            @inline(__always) func add(_ offset: Int, _ a0: inout V, _ a1: inout V, _ a2: inout V, _ a3: inout V) {
                                let xv = base.loadUnaligned(fromByteOffset: byte + offset, as: V.self)
                                a0 = a0.addingProduct(g0v, xv); a1 = a1.addingProduct(g1v, xv)
                                a2 = a2.addingProduct(g2v, xv); a3 = a3.addingProduct(g3v, xv)
                            }
                            add(0, &a00, &a10, &a20, &a30)
                            if tileTaps > 1 { add(b1, &a01, &a11, &a21, &a31) }
                            if tileTaps > 2 { add(b2, &a02, &a12, &a22, &a32) }
                            if tileTaps > 3 { add(b3, &a03, &a13, &a23, &a33) }
                            q += vector
                        }
                        let count = min(tileTaps, kw - c0)
                        let target = partial + ci * taps + r * kw + c0
                        let channelStride = channels * taps
                        let first = blockChannels * block
                        store(a00, a01, a02, a03, count, target + first * channelStride, first < outChannels)
                        store(a10, a11, a12, a13, count, target + (first + 1) * channelStride, first + 1 < outChannels)
                        store(a20, a21, a22, a23, count, target + (first + 2) * channelStride, first + 2 < outChannels)
                        store(a30, a31, a32, a33, count, target + (first + 3) * channelStride, first + 3 < outChannels)
                        c0 += tileTaps
                    }
                }
            }
        }
    }

    /// target[t] += sum of vector t, for t < count (when `valid`).
    @inline(__always)
    private static func store<V: SIMD>(_ s0: V, _ s1: V, _ s2: V, _ s3: V, _ count: Int,
                                       _ target: UnsafeMutablePointer<Float>, _ valid: Bool) where V.Scalar == Float {
        if !valid { return }
        target[0] += s0.sum()
        if count > 1 { target[1] += s1.sum() }
        if count > 2 { target[2] += s2.sum() }
        if count > 3 { target[3] += s3.sum() }
    }
}
