/// Convolution as one matrix product per batch, after the doubly block Toeplitz formulation of the
/// tutorials: the kernel becomes T of shape [Cout·OH·OW, Cin·H·W] (padding and stride folded in),
/// `T[(co, oy, ox)][(ci, iy, ix)] = weight[co][ci][kh][kw]` where `iy = oy·S − P_top + kh·D`,
/// `ix = ox·S − P_left + kw·D` (zero elsewhere; dilation and asymmetric padding only move the entries),
/// and each image is one vector:
/// - forward: `Out[N, Cout·OH·OW] = In[N, Cin·H·W] · Tᵀ` (+ bias), one GEMM;
/// - backwardData: `gradIn[N, Cin·H·W] = gradOut[N, Cout·OH·OW] · T`, one GEMM;
/// - backwardWeights reuses the im2col path: the full `gradOutᵀ · In` would cost Cout·OH·OW·Cin·H·W per image
///   to recover only Cout·Cin·KH·KW entries.
///
/// Memory: T takes 4·Cout·OH·OW·Cin·H·W bytes — e.g. 39 MB for 1→16 5×5 "same" on 28×28, 79 MB for
/// 16→32 on 14×14, 184 MB for 10→20 on 24×24 — and multiplies by H·W/(KH·KW)-times more zeros than weights,
/// which makes it much slower than im2col for real layers. Above `byteLimit` (256 MiB) `makeConvolution`
/// throws `ConvolutionError.toeplitzTooLarge`. T is zeroed once; `prepare(weight:)` rewrites only its
/// Cout·OH·OW·Cin·KH·KW kernel entries.
///
/// Groups are refused (`ConvolutionError.unsupported`): T would be block-diagonal over groups, so the one
/// batch GEMM would multiply groups-times more zeros than it already does — im2col runs one GEMM per group.
final class ToeplitzConvolution: ConvolutionBackend {
    /// Largest Toeplitz matrix built, in bytes.
    static let byteLimit = 256 << 20

    let geometry: ConvolutionGeometry
    let kind = ConvolutionBackendKind.toeplitz
    var algorithm: String { "toeplitz, \(gemm.target)" }
    private let gemm: GEMM
    private let matrix: UnsafeMutablePointer<Float>
    private let rows: Int
    private let columns: Int
    private let weightPath: Im2ColConvolution

    /// Floats of T for `g`, or why this backend refuses `g` (groups, or T above `byteLimit`).
    private static func matrixElements(_ g: ConvolutionGeometry) throws(ConvolutionError) -> Int {
        if g.groups != 1 {
            throw ConvolutionError.unsupported(backend: .toeplitz, reason: "groups (this layer has groups = \(g.groups))")
        }
        let (rowCount, overflowRows) = g.outputImageSize.multipliedReportingOverflow(by: 1)
        let (elements, overflow) = rowCount.multipliedReportingOverflow(by: g.inputImageSize)
        let bytes = overflow || overflowRows ? Int.max : elements.multipliedReportingOverflow(by: 4).partialValue
        if overflow || bytes > ToeplitzConvolution.byteLimit || bytes < 0 {
            throw ConvolutionError.toeplitzTooLarge(bytes: bytes, limit: ToeplitzConvolution.byteLimit)
        }
        return elements
    }

    /// T is kept from step to step; the weight gradient's im2col path brings its own scratch.
    static func memory(_ g: ConvolutionGeometry, threads: Int) -> MemoryFootprint? {
        guard let elements = try? matrixElements(g), let weightPath = Im2ColConvolution.memory(g, threads: threads) else { return nil }
        return weightPath + MemoryFootprint(persistentBytes: MemoryFootprint.alignedFloats(elements))
    }

    init(geometry g: ConvolutionGeometry, gemm: GEMM) throws {
        let elements = try ToeplitzConvolution.matrixElements(g)
        geometry = g
        self.gemm = gemm
        rows = g.outputImageSize
        columns = g.inputImageSize
        matrix = GEMM.allocateAligned(elements)
        matrix.update(repeating: 0, count: elements)
        weightPath = Im2ColConvolution(geometry: g, gemm: gemm)
    }

    deinit { matrix.deallocate() }

    func prepare(weight: UnsafePointer<Float>) {
        let pass = KernelPlacement(geometry: geometry, weight: weight, matrix: matrix, columns: columns)
        gemm.pool.parallelFor(geometry.outChannels, context: pass) { raw, first, end in
            raw.load(as: KernelPlacement.self).place(channels: first..<end)
        }
    }

    /// Writes the kernel entries of output channels `channels` into T (read by C-convention pool tasks).
    private struct KernelPlacement {
        let geometry: ConvolutionGeometry
        let weight: UnsafePointer<Float>
        let matrix: UnsafeMutablePointer<Float>
        let columns: Int

        func place(channels: Range<Int>) {
            let g = geometry, oh = g.outHeight, ow = g.outWidth, kh = g.kernelHeight, kw = g.kernelWidth
            let plane = g.inHeight * g.inWidth
            for co in channels {
                for oy in 0..<oh {
                    for ox in 0..<ow {
                        let row = matrix + ((co * oh + oy) * ow + ox) * columns
                        for ci in 0..<g.inChannels {
                            let kernel = weight + (co * g.inChannels + ci) * kh * kw
                            for a in 0..<kh {
                                let iy = oy * g.strideHeight - g.paddingTop + a * g.dilationHeight
                                if iy < 0 || iy >= g.inHeight { continue }
                                let base = ci * plane + iy * g.inWidth
                                for b in 0..<kw {
                                    let ix = ox * g.strideWidth - g.paddingLeft + b * g.dilationWidth
                                    if ix >= 0 && ix < g.inWidth { row[base + ix] = kernel[a * kw + b] }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    func forward(batch: Int, input: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                 output: UnsafeMutablePointer<Float>) {
        if let bias { PatchLowering.fillBias(geometry, images: batch, bias: bias, output: output) }
        gemm.multiply(m: batch, n: rows, k: columns, a: input, lda: columns, transposeA: false,
                      b: matrix, ldb: columns, transposeB: true, c: output, ldc: rows, beta: bias == nil ? 0 : 1)
    }

    func backwardData(batch: Int, gradOutput: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                      gradInput: UnsafeMutablePointer<Float>) {
        gemm.multiply(m: batch, n: columns, k: rows, a: gradOutput, lda: rows, transposeA: false,
                      b: matrix, ldb: columns, transposeB: false, c: gradInput, ldc: columns)
    }

    func backwardWeights(batch: Int, input: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>,
                         gradWeight: UnsafeMutablePointer<Float>, gradBias: UnsafeMutablePointer<Float>?) {
        weightPath.backwardWeights(batch: batch, input: input, gradOutput: gradOutput, gradWeight: gradWeight,
                                   gradBias: gradBias)
    }
}
