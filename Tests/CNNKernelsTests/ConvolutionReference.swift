@testable import CNNKernels
import PyTorchFixtures

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

    /// Calls `body(output, input, weight)` — flat indices into output[N, Cout, OH, OW], input[N, Cin, H, W]
    /// and weight[Cout, Cin/groups, KH, KW] — for every tap that reads the input.
    static func forEachTap(_ g: ConvolutionGeometry, batch: Int, _ body: (Int, Int, Int) -> Void) {
        let groupIn = g.inChannels / g.groups, groupOut = g.outChannels / g.groups, mode = g.paddingMode
        let oh = g.outHeight, ow = g.outWidth, kh = g.kernelHeight, kw = g.kernelWidth
        // Padded position → input index for every row and column (nil: zero padding), computed once.
        let rows = (0..<oh).map { oy in (0..<kh).map { a in
            source(oy * g.strideHeight - g.paddingTop + a * g.dilationHeight, size: g.inHeight, mode: mode)
        } }
        let columns = (0..<ow).map { ox in (0..<kw).map { b in
            source(ox * g.strideWidth - g.paddingLeft + b * g.dilationWidth, size: g.inWidth, mode: mode)
        } }
        for n in 0..<batch { for co in 0..<g.outChannels { for local in 0..<groupIn {
            let ci = co / groupOut * groupIn + local
            let inputBase = (n * g.inChannels + ci) * g.inHeight * g.inWidth
            let weightBase = (co * groupIn + local) * kh * kw
            let outputBase = (n * g.outChannels + co) * oh * ow
            for oy in 0..<oh { for ox in 0..<ow {
                for a in 0..<kh {
                    guard let iy = rows[oy][a] else { continue }
                    for b in 0..<kw {
                        guard let ix = columns[ox][b] else { continue }
                        body(outputBase + oy * ow + ox, inputBase + iy * g.inWidth + ix, weightBase + a * kw + b)
                    }
                }
            } }
        } } }
    }

    /// Σ over taps of `target[t] += first[f] · second[s]`, with (t, f, s) picked from each tap's indices.
    private static func accumulate(_ g: ConvolutionGeometry, batch: Int, into target: inout [Double],
                                   _ first: [Float], _ second: [Float],
                                   _ pick: (Int, Int, Int) -> (Int, Int, Int)) {
        target.withUnsafeMutableBufferPointer { t in
            first.withUnsafeBufferPointer { a in
                second.withUnsafeBufferPointer { b in
                    forEachTap(g, batch: batch) { o, i, w in
                        let (ti, ai, bi) = pick(o, i, w)
                        t[ti] += Double(a[ai]) * Double(b[bi])
                    }
                }
            }
        }
    }

    static func forward(_ g: ConvolutionGeometry, batch: Int, input: [Float], weight: [Float], bias: [Float]?) -> [Float] {
        var out = [Double](repeating: 0, count: batch * g.outputImageSize)
        if let bias {
            for i in 0..<out.count { out[i] = Double(bias[(i / g.outPlane) % g.outChannels]) }
        }
        accumulate(g, batch: batch, into: &out, input, weight) { o, i, w in (o, i, w) }
        return out.map { Float($0) }
    }

    static func backwardData(_ g: ConvolutionGeometry, batch: Int, gradOutput: [Float], weight: [Float]) -> [Float] {
        var grad = [Double](repeating: 0, count: batch * g.inputImageSize)
        accumulate(g, batch: batch, into: &grad, gradOutput, weight) { o, i, w in (i, o, w) }
        return grad.map { Float($0) }
    }

    static func backwardWeights(_ g: ConvolutionGeometry, batch: Int, input: [Float], gradOutput: [Float])
        -> (weight: [Float], bias: [Float]) {
        var grad = [Double](repeating: 0, count: g.weightCount)
        accumulate(g, batch: batch, into: &grad, gradOutput, input) { o, i, w in (w, o, i) }
        var bias = [Double](repeating: 0, count: g.outChannels)
        for i in 0..<(batch * g.outputImageSize) { bias[(i / g.outPlane) % g.outChannels] += Double(gradOutput[i]) }
        return (grad.map { Float($0) }, bias.map { Float($0) })
    }
}

/// Runs a backend's three passes on arrays.
struct ConvolutionRun {
    /// The largest relative error of each pass (forward with bias, backwardData, gradWeight, gradBias) on
    /// random tensors of `batch` images against `ConvolutionReference`, each with the absolute floor
    /// `floor(expected)`.
    func errorsAgainstReference(batch: Int, random: inout TestRandom,
                                floor: ([Float]) -> Float) -> [(pass: String, error: Float)] {
        let input = random.array(batch * g.inputImageSize), weight = random.array(g.weightCount)
        let bias = random.array(g.outChannels), gradOutput = random.array(batch * g.outputImageSize)
        let expectedOut = ConvolutionReference.forward(g, batch: batch, input: input, weight: weight, bias: bias)
        let expectedIn = ConvolutionReference.backwardData(g, batch: batch, gradOutput: gradOutput, weight: weight)
        let expectedW = ConvolutionReference.backwardWeights(g, batch: batch, input: input, gradOutput: gradOutput)
        let output = forward(batch: batch, input: input, weight: weight, bias: bias)
        let gradInput = backwardData(batch: batch, gradOutput: gradOutput, weight: weight)
        let grads = backwardWeights(batch: batch, input: input, gradOutput: gradOutput)
        return [("forward", maxRelativeError(output, expectedOut, floor: floor(expectedOut))),
                ("backwardData", maxRelativeError(gradInput, expectedIn, floor: floor(expectedIn))),
                ("gradWeight", maxRelativeError(grads.weight, expectedW.weight, floor: floor(expectedW.weight))),
                ("gradBias", maxRelativeError(grads.bias, expectedW.bias, floor: floor(expectedW.bias)))]
    }

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
