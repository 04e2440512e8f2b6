/// Stride-1 "wide" convolution, the vectorised core of the direct backend.
///
/// An image padded into a `rows × width` buffer is convolved with a KH×KW kernel on the *wide* grid: output
/// pixel q = y·width + x (x over the whole buffer width, the last KW−1 columns being garbage) reads the input
/// at q + kh·D_h·width + kw·D_w, so every tap is one contiguous SIMD16 load. Strided convolutions compute the
/// stride-1 grid and keep every S-th row/column.
struct WideGrid {
    let rows: Int, width: Int, kernelHeight: Int, kernelWidth: Int
    var dilationHeight = 1, dilationWidth = 1
    /// Input buffer elements per channel.
    var plane: Int { rows * width }
    /// Stride-1 output rows.
    var outRows: Int { rows - dilationHeight * (kernelHeight - 1) }
    /// Wide output length rounded up to the 64-pixel register block.
    var paddedOutput: Int { (outRows * width + 63) / 64 * 64 }
    /// Elements a buffer of `channels` channels needs, including the slack the last block reads past the end
    /// (`correlate` reads up to 3 dilated columns beyond the kernel).
    func bufferSize(channels: Int) -> Int { channels * plane + paddedOutput + 128 + 4 * dilationWidth }
}

enum WideConvolution {
    /// y[j][q] = Σ_ci Σ_kh,kw weights[((ci·KH + kh)·KW + kw)·4 + j] · x[ci·plane + q + kh·D_h·width + kw·D_w]
    /// for the 4 output channels j of one block and every q < grid.paddedOutput.
    static func convolve(grid: WideGrid, channels: Int, x: UnsafePointer<Float>, weights: UnsafePointer<Float>,
                         y: UnsafeMutablePointer<Float>) {
        let kh = grid.kernelHeight, kw = grid.kernelWidth, width = grid.width, plane = grid.plane
        let stride = grid.paddedOutput
        let rowStep = grid.dilationHeight * width, columnBytes = 4 * grid.dilationWidth
        var q0 = 0
        while q0 < stride {
            var a00 = SIMD16<Float>(), a01 = SIMD16<Float>(), a02 = SIMD16<Float>(), a03 = SIMD16<Float>()
            var a10 = SIMD16<Float>(), a11 = SIMD16<Float>(), a12 = SIMD16<Float>(), a13 = SIMD16<Float>()
            var a20 = SIMD16<Float>(), a21 = SIMD16<Float>(), a22 = SIMD16<Float>(), a23 = SIMD16<Float>()
            var a30 = SIMD16<Float>(), a31 = SIMD16<Float>(), a32 = SIMD16<Float>(), a33 = SIMD16<Float>()
            var w = weights
            for ci in 0..<channels {
                let channel = x + ci * plane + q0
                for r in 0..<kh {
                    let line = UnsafeRawPointer(channel + r * rowStep)
                    for c in 0..<kw {
                        let p = line + columnBytes * c
                        let x0 = p.loadUnaligned(as: SIMD16<Float>.self)
                        let x1 = p.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self)
                        let x2 = p.loadUnaligned(fromByteOffset: 128, as: SIMD16<Float>.self)
                        let x3 = p.loadUnaligned(fromByteOffset: 192, as: SIMD16<Float>.self)
                        var s = SIMD16<Float>(repeating: w[0])
                        a00 = a00.addingProduct(s, x0); a01 = a01.addingProduct(s, x1)
                        a02 = a02.addingProduct(s, x2); a03 = a03.addingProduct(s, x3)
                        s = SIMD16<Float>(repeating: w[1])
                        a10 = a10.addingProduct(s, x0); a11 = a11.addingProduct(s, x1)
                        a12 = a12.addingProduct(s, x2); a13 = a13.addingProduct(s, x3)
                        s = SIMD16<Float>(repeating: w[2])
                        a20 = a20.addingProduct(s, x0); a21 = a21.addingProduct(s, x1)
                        a22 = a22.addingProduct(s, x2); a23 = a23.addingProduct(s, x3)
                        s = SIMD16<Float>(repeating: w[3])
                        a30 = a30.addingProduct(s, x0); a31 = a31.addingProduct(s, x1)
                        a32 = a32.addingProduct(s, x2); a33 = a33.addingProduct(s, x3)
                        w += 4
                    }
                }
            }
            let out = UnsafeMutableRawPointer(y + q0)
            let rowBytes = 4 * stride
            out.storeBytes(of: a00, as: SIMD16<Float>.self)
            out.storeBytes(of: a01, toByteOffset: 64, as: SIMD16<Float>.self)
            out.storeBytes(of: a02, toByteOffset: 128, as: SIMD16<Float>.self)
            out.storeBytes(of: a03, toByteOffset: 192, as: SIMD16<Float>.self)
            out.storeBytes(of: a10, toByteOffset: rowBytes, as: SIMD16<Float>.self)
            out.storeBytes(of: a11, toByteOffset: rowBytes + 64, as: SIMD16<Float>.self)
            out.storeBytes(of: a12, toByteOffset: rowBytes + 128, as: SIMD16<Float>.self)
            out.storeBytes(of: a13, toByteOffset: rowBytes + 192, as: SIMD16<Float>.self)
            out.storeBytes(of: a20, toByteOffset: 2 * rowBytes, as: SIMD16<Float>.self)
            out.storeBytes(of: a21, toByteOffset: 2 * rowBytes + 64, as: SIMD16<Float>.self)
            out.storeBytes(of: a22, toByteOffset: 2 * rowBytes + 128, as: SIMD16<Float>.self)
            out.storeBytes(of: a23, toByteOffset: 2 * rowBytes + 192, as: SIMD16<Float>.self)
            out.storeBytes(of: a30, toByteOffset: 3 * rowBytes, as: SIMD16<Float>.self)
            out.storeBytes(of: a31, toByteOffset: 3 * rowBytes + 64, as: SIMD16<Float>.self)
            out.storeBytes(of: a32, toByteOffset: 3 * rowBytes + 128, as: SIMD16<Float>.self)
            out.storeBytes(of: a33, toByteOffset: 3 * rowBytes + 192, as: SIMD16<Float>.self)
            q0 += 64
        }
    }

    /// partial[(co·channels + ci)·KH·KW + kh·KW + kw] += Σ_q g[co][q] · x[ci·plane + q + kh·D_h·width + kw·D_w]
    /// for co < outChannels; `g` holds `blocks·4` channels of `grid.paddedOutput` values (zero off the grid).
    static func correlate(grid: WideGrid, channels: Int, outChannels: Int, x: UnsafePointer<Float>,
                          g: UnsafePointer<Float>, partial: UnsafeMutablePointer<Float>) {
        let kh = grid.kernelHeight, kw = grid.kernelWidth, width = grid.width, plane = grid.plane
        let stride = grid.paddedOutput
        let taps = kh * kw
        let dh = grid.dilationHeight, dw = grid.dilationWidth, b1 = 4 * dw, b2 = 8 * dw, b3 = 12 * dw
        let used = (grid.outRows * width + 15) / 16 * 16
        for block in 0..<((outChannels + 3) / 4) {
            let g0 = UnsafeRawPointer(g + 4 * block * stride)
            let rowBytes = 4 * stride
            for ci in 0..<channels {
                for r in 0..<kh {
                    var c0 = 0
                    while c0 < kw {
                        var a00 = SIMD16<Float>(), a01 = SIMD16<Float>(), a02 = SIMD16<Float>(), a03 = SIMD16<Float>()
                        var a10 = SIMD16<Float>(), a11 = SIMD16<Float>(), a12 = SIMD16<Float>(), a13 = SIMD16<Float>()
                        var a20 = SIMD16<Float>(), a21 = SIMD16<Float>(), a22 = SIMD16<Float>(), a23 = SIMD16<Float>()
                        var a30 = SIMD16<Float>(), a31 = SIMD16<Float>(), a32 = SIMD16<Float>(), a33 = SIMD16<Float>()
                        let base = UnsafeRawPointer(x + ci * plane + r * dh * width + c0 * dw)
                        var q = 0
                        while q < used {
                            let byte = 4 * q
                            let g0v = g0.load(fromByteOffset: byte, as: SIMD16<Float>.self)
                            let g1v = g0.load(fromByteOffset: byte + rowBytes, as: SIMD16<Float>.self)
                            let g2v = g0.load(fromByteOffset: byte + 2 * rowBytes, as: SIMD16<Float>.self)
                            let g3v = g0.load(fromByteOffset: byte + 3 * rowBytes, as: SIMD16<Float>.self)
                            var xv = base.loadUnaligned(fromByteOffset: byte, as: SIMD16<Float>.self)
                            a00 = a00.addingProduct(g0v, xv); a10 = a10.addingProduct(g1v, xv)
                            a20 = a20.addingProduct(g2v, xv); a30 = a30.addingProduct(g3v, xv)
                            xv = base.loadUnaligned(fromByteOffset: byte + b1, as: SIMD16<Float>.self)
                            a01 = a01.addingProduct(g0v, xv); a11 = a11.addingProduct(g1v, xv)
                            a21 = a21.addingProduct(g2v, xv); a31 = a31.addingProduct(g3v, xv)
                            xv = base.loadUnaligned(fromByteOffset: byte + b2, as: SIMD16<Float>.self)
                            a02 = a02.addingProduct(g0v, xv); a12 = a12.addingProduct(g1v, xv)
                            a22 = a22.addingProduct(g2v, xv); a32 = a32.addingProduct(g3v, xv)
                            xv = base.loadUnaligned(fromByteOffset: byte + b3, as: SIMD16<Float>.self)
                            a03 = a03.addingProduct(g0v, xv); a13 = a13.addingProduct(g1v, xv)
                            a23 = a23.addingProduct(g2v, xv); a33 = a33.addingProduct(g3v, xv)
                            q += 16
                        }
                        let count = min(4, kw - c0)
                        let target = partial + ci * taps + r * kw + c0
                        let channelStride = channels * taps
                        let first = 4 * block
                        store(a00, a01, a02, a03, count, target + first * channelStride, first < outChannels)
                        store(a10, a11, a12, a13, count, target + (first + 1) * channelStride, first + 1 < outChannels)
                        store(a20, a21, a22, a23, count, target + (first + 2) * channelStride, first + 2 < outChannels)
                        store(a30, a31, a32, a33, count, target + (first + 3) * channelStride, first + 3 < outChannels)
                        c0 += 4
                    }
                }
            }
        }
    }

    /// target[t] += sum of lane vector t, for t < count (when `valid`).
    @inline(__always)
    private static func store(_ s0: SIMD16<Float>, _ s1: SIMD16<Float>, _ s2: SIMD16<Float>, _ s3: SIMD16<Float>,
                              _ count: Int, _ target: UnsafeMutablePointer<Float>, _ valid: Bool) {
        if !valid { return }
        target[0] += s0.sum()
        if count > 1 { target[1] += s1.sum() }
        if count > 2 { target[2] += s2.sum() }
        if count > 3 { target[3] += s3.sum() }
    }
}
