@testable import CNNKernels

/// Float64 convolution by the definition's loops, the reference the backends are compared to: groups,
/// dilation, asymmetric padding and PyTorch's padding modes (a padded position of a non-zero mode reads —
/// and its gradient goes to — the input pixel F.pad copies there).
enum ConvolutionReference {
    /// The input index padded position `p` reads along an axis of `size`, or nil (zero padding).
    static func source(_ p: Int, size: Int, mode: ConvolutionPaddingMode) -> Int? {
        if p >= 0 && p < size { return p }
        switch mode {
        case .zeros: return nil
        case .replicate: return min(max(p, 0), size - 1)
        case .reflect: return p < 0 ? -p : 2 * (size - 1) - p
        case .circular: return (p % size + size) % size
        }
    }

    /// Calls `body(n, co, ci, oy, ox, iy, ix, kh, kw)` for every tap that reads the input (ci absolute).
    static func forEachTap(_ g: ConvolutionGeometry, batch: Int,
                           _ body: (Int, Int, Int, Int, Int, Int, Int, Int, Int) -> Void) {
        let groupIn = g.inChannels / g.groups, groupOut = g.outChannels / g.groups, mode = g.paddingMode
        // Padded position → input index for every row and column (nil: zero padding), computed once.
        let rows = (0..<g.outHeight).map { oy in (0..<g.kernelHeight).map { kh in
            source(oy * g.strideHeight - g.paddingTop + kh * g.dilationHeight, size: g.inHeight, mode: mode)
        } }
        let columns = (0..<g.outWidth).map { ox in (0..<g.kernelWidth).map { kw in
            source(ox * g.strideWidth - g.paddingLeft + kw * g.dilationWidth, size: g.inWidth, mode: mode)
        } }
        for n in 0..<batch { for co in 0..<g.outChannels { for local in 0..<groupIn {
            let ci = co / groupOut * groupIn + local
            for oy in 0..<g.outHeight { for ox in 0..<g.outWidth {
                for kh in 0..<g.kernelHeight {
                    guard let iy = rows[oy][kh] else { continue }
                    for kw in 0..<g.kernelWidth {
                        guard let ix = columns[ox][kw] else { continue }
                        body(n, co, ci, oy, ox, iy, ix, kh, kw)
                    }
                }
            } }
        } } }
    }

    static func outIndex(_ g: ConvolutionGeometry, _ n: Int, _ co: Int, _ oy: Int, _ ox: Int) -> Int {
        ((n * g.outChannels + co) * g.outHeight + oy) * g.outWidth + ox
    }
    static func inIndex(_ g: ConvolutionGeometry, _ n: Int, _ ci: Int, _ iy: Int, _ ix: Int) -> Int {
        ((n * g.inChannels + ci) * g.inHeight + iy) * g.inWidth + ix
    }
    /// Index into weight[Cout, Cin/groups, KH, KW] of absolute input channel ci.
    static func weightIndex(_ g: ConvolutionGeometry, _ co: Int, _ ci: Int, _ kh: Int, _ kw: Int) -> Int {
        let groupIn = g.inChannels / g.groups
        return ((co * groupIn + ci % groupIn) * g.kernelHeight + kh) * g.kernelWidth + kw
    }

    static func forward(_ g: ConvolutionGeometry, batch: Int, input: [Float], weight: [Float], bias: [Float]?) -> [Float] {
        var out = [Double](repeating: 0, count: batch * g.outputImageSize)
        if let bias {
            for i in 0..<out.count { out[i] = Double(bias[(i / g.outPlane) % g.outChannels]) }
        }
        forEachTap(g, batch: batch) { n, co, ci, oy, ox, iy, ix, kh, kw in
            out[outIndex(g, n, co, oy, ox)] += Double(input[inIndex(g, n, ci, iy, ix)])
                * Double(weight[weightIndex(g, co, ci, kh, kw)])
        }
        return out.map { Float($0) }
    }

    static func backwardData(_ g: ConvolutionGeometry, batch: Int, gradOutput: [Float], weight: [Float]) -> [Float] {
        var grad = [Double](repeating: 0, count: batch * g.inputImageSize)
        forEachTap(g, batch: batch) { n, co, ci, oy, ox, iy, ix, kh, kw in
            grad[inIndex(g, n, ci, iy, ix)] += Double(gradOutput[outIndex(g, n, co, oy, ox)])
                * Double(weight[weightIndex(g, co, ci, kh, kw)])
        }
        return grad.map { Float($0) }
    }

    static func backwardWeights(_ g: ConvolutionGeometry, batch: Int, input: [Float], gradOutput: [Float])
        -> (weight: [Float], bias: [Float]) {
        var grad = [Double](repeating: 0, count: g.weightCount)
        forEachTap(g, batch: batch) { n, co, ci, oy, ox, iy, ix, kh, kw in
            grad[weightIndex(g, co, ci, kh, kw)] += Double(gradOutput[outIndex(g, n, co, oy, ox)])
                * Double(input[inIndex(g, n, ci, iy, ix)])
        }
        var bias = [Double](repeating: 0, count: g.outChannels)
        for i in 0..<(batch * g.outputImageSize) { bias[(i / g.outPlane) % g.outChannels] += Double(gradOutput[i]) }
        return (grad.map { Float($0) }, bias.map { Float($0) })
    }
}

/// Runs a backend's three passes on arrays.
struct ConvolutionRun {
    let kernel: any ConvolutionKernel
    var g: ConvolutionGeometry { kernel.geometry }

    func forward(batch: Int, input: [Float], weight: [Float], bias: [Float]?) -> [Float] {
        var output = [Float](repeating: .nan, count: batch * g.outputImageSize)
        kernel.prepare(weight: weight)
        if let bias {
            kernel.forward(batch: batch, input: input, weight: weight, bias: bias, output: &output)
        } else {
            kernel.forward(batch: batch, input: input, weight: weight, bias: nil, output: &output)
        }
        return output
    }

    func backwardData(batch: Int, gradOutput: [Float], weight: [Float]) -> [Float] {
        var gradInput = [Float](repeating: .nan, count: batch * g.inputImageSize)
        kernel.prepare(weight: weight)
        kernel.backwardData(batch: batch, gradOutput: gradOutput, weight: weight, gradInput: &gradInput)
        return gradInput
    }

    func backwardWeights(batch: Int, input: [Float], gradOutput: [Float]) -> (weight: [Float], bias: [Float]) {
        var gradWeight = [Float](repeating: .nan, count: g.weightCount)
        var gradBias = [Float](repeating: .nan, count: g.outChannels)
        kernel.backwardWeights(batch: batch, input: input, gradOutput: gradOutput, gradWeight: &gradWeight,
                               gradBias: &gradBias)
        return (gradWeight, gradBias)
    }
}

/// The kernel of `kind`, or nil when that backend refuses the geometry with `ConvolutionError.unsupported`
/// (depthwise on an ordinary layer, toeplitz with groups); every other error is rethrown.
func makeIfSupported(_ kind: ConvolutionBackendKind, geometry: ConvolutionGeometry,
                     gemm: GEMM) throws -> (any ConvolutionKernel)? {
    do {
        return try makeConvolution(kind, geometry: geometry, gemm: gemm)
    } catch ConvolutionError.unsupported {
        return nil
    }
}
