/// Convolution by lowering: each image's patches become a matrix `col[Cin·KH·KW, OH·OW]` and
/// the layer is `output_n[Cout, OH·OW] = weight[Cout, Cin·KH·KW] · col`, one single-threaded GEMM per image
/// with images spread over the pool (each thread lowers into its own cache-resident `col`).
/// backwardData: `gradCol = weightᵀ · gradOutput_n`, then col2im. backwardWeights:
/// `gradWeight += gradOutput_n · col_nᵀ` per thread, then a sum over threads.
/// 1×1 stride-1 unpadded kernels use the input itself as `col` (no lowering).
/// Dilation and asymmetric padding live in the lowering; with groups every product splits into one GEMM
/// per group over that group's block of `col` rows, weight rows and output channels.
///
/// Workspace: per thread one `col` (Cin·KH·KW·OH·OW floats) and one partial weight gradient.
final class Im2ColConvolution: ConvolutionBackend {
    let geometry: ConvolutionGeometry
    let kind = ConvolutionBackendKind.im2col
    var algorithm: String { "im2col/per image, \(gemm.target)" }
    private let gemm: GEMM
    private let threads: Int
    private let columns: [UnsafeMutablePointer<Float>]
    private let partialWeights: [UnsafeMutablePointer<Float>]
    private let partialBias: UnsafeMutablePointer<Float>

    init(geometry: ConvolutionGeometry, gemm: GEMM) {
        self.geometry = geometry
        self.gemm = gemm
        threads = gemm.slotCount
        let colSize = Im2ColConvolution.columnSize(geometry)
        columns = (0..<threads).map { _ in GEMM.allocateAligned(colSize) }
        partialWeights = (0..<threads).map { _ in GEMM.allocateAligned(geometry.weightCount) }
        partialBias = GEMM.allocateAligned(threads * geometry.outChannels)
    }

    deinit {
        columns.forEach { $0.deallocate() }
        partialWeights.forEach { $0.deallocate() }
        partialBias.deallocate()
    }

    /// Floats of one lowered image, Cin·KH·KW·OH·OW (none when pointwise).
    private static func columnSize(_ g: ConvolutionGeometry) -> Int {
        g.isPointwise ? 0 : g.groups * g.patchSize * g.outPlane
    }

    static func memory(_ g: ConvolutionGeometry, threads: Int) -> MemoryFootprint? {
        let perThread = MemoryFootprint.alignedFloats(columnSize(g)) + MemoryFootprint.alignedFloats(g.weightCount)
        return MemoryFootprint(workspaceBytes: Double(threads) * perThread + MemoryFootprint.alignedFloats(threads * g.outChannels))
    }

    func prepare(weight: UnsafePointer<Float>) {}

    /// Runs `body(context, slot, start, end)` over contiguous image ranges, one per pool thread.
    private func forEachImageRange<Context>(batch: Int, context: Context, _ body: ParallelPartTask) {
        gemm.pool.forEachPart(of: batch, parts: min(threads, batch), context: context, body)
    }

    /// The lowered matrix of image `n` in slot `slot`'s workspace (or the image itself when pointwise).
    private func lowered(_ input: UnsafePointer<Float>, image n: Int, slot: Int) -> UnsafePointer<Float> {
        let image = input + n * geometry.inputImageSize
        if geometry.isPointwise { return image }
        PatchLowering.im2col(geometry, image: image, col: columns[slot])
        return UnsafePointer(columns[slot])
    }

    func forward(batch: Int, input: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                 output: UnsafeMutablePointer<Float>) {
        let pass = ForwardPass(kernel: Unmanaged.passUnretained(self), input: input, weight: weight, bias: bias, output: output)
        forEachImageRange(batch: batch, context: pass) { raw, slot, first, end in
            let pass = raw.load(as: ForwardPass.self)
            pass.kernel.takeUnretainedValue().forward(images: first..<end, slot: slot, input: pass.input, weight: pass.weight,
                                                      bias: pass.bias, output: pass.output)
        }
    }

    private func forward(images: Range<Int>, slot: Int, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                         bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>) {
        let g = geometry, plane = g.outPlane
        for n in images {
            let col = lowered(input, image: n, slot: slot)
            let out = output + n * g.outputImageSize
            if let bias { PatchLowering.fillBias(g, images: 1, bias: bias, output: out) }
            let rows = g.groupOutChannels, k = g.patchSize
            for group in 0..<g.groups {
                gemm.multiplySerial(slot: slot, m: rows, n: plane, k: k,
                                    a: weight + group * rows * k, lda: k, transposeA: false,
                                    b: col + group * k * plane, ldb: plane, transposeB: false,
                                    c: out + group * rows * plane, ldc: plane, alpha: 1, beta: bias == nil ? 0 : 1)
            }
        }
    }

    func backwardData(batch: Int, gradOutput: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                      gradInput: UnsafeMutablePointer<Float>) {
        let pass = BackwardDataPass(kernel: Unmanaged.passUnretained(self), gradOutput: gradOutput, weight: weight,
                                    gradInput: gradInput)
        forEachImageRange(batch: batch, context: pass) { raw, slot, first, end in
            let pass = raw.load(as: BackwardDataPass.self)
            pass.kernel.takeUnretainedValue().backwardData(images: first..<end, slot: slot, gradOutput: pass.gradOutput,
                                                           weight: pass.weight, gradInput: pass.gradInput)
        }
    }

    private func backwardData(images: Range<Int>, slot: Int, gradOutput: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                              gradInput: UnsafeMutablePointer<Float>) {
        let g = geometry, plane = g.outPlane
        for n in images {
            let gradImage = gradInput + n * g.inputImageSize
            let target = g.isPointwise ? gradImage : columns[slot]
            let rows = g.groupOutChannels, k = g.patchSize
            for group in 0..<g.groups {
                gemm.multiplySerial(slot: slot, m: k, n: plane, k: rows,
                                    a: weight + group * rows * k, lda: k, transposeA: true,
                                    b: gradOutput + n * g.outputImageSize + group * rows * plane, ldb: plane,
                                    transposeB: false, c: target + group * k * plane, ldc: plane, alpha: 1, beta: 0)
            }
            if !g.isPointwise { PatchLowering.col2im(g, col: columns[slot], image: gradImage) }
        }
    }

    func backwardWeights(batch: Int, input: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>,
                         gradWeight: UnsafeMutablePointer<Float>, gradBias: UnsafeMutablePointer<Float>?) {
        let g = geometry, weightCount = g.weightCount
        let tasks = min(threads, batch)
        let pass = BackwardWeightsPass(kernel: Unmanaged.passUnretained(self), input: input, gradOutput: gradOutput,
                                       gradWeight: gradWeight, gradBias: gradBias)
        forEachImageRange(batch: batch, context: pass) { raw, slot, first, end in
            let pass = raw.load(as: BackwardWeightsPass.self)
            pass.kernel.takeUnretainedValue().backwardWeights(images: first..<end, slot: slot, input: pass.input,
                                                              gradOutput: pass.gradOutput, gradWeight: pass.gradWeight,
                                                              gradBias: pass.gradBias)
        }
        if batch <= 0 {
            gradWeight.update(repeating: 0, count: weightCount)
            gradBias?.update(repeating: 0, count: g.outChannels)
            return
        }
        ConvolutionReduction.addPartials(weights: partialWeights, bias: partialBias, slots: tasks, into: gradWeight,
                                         gradBias: gradBias, weightCount: weightCount, outChannels: g.outChannels)
    }

    /// One thread's share of `backwardWeights`: slot 0 writes `gradWeight`/`gradBias`, other slots their partials.
    private func backwardWeights(images: Range<Int>, slot: Int, input: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>,
                                 gradWeight: UnsafeMutablePointer<Float>, gradBias: UnsafeMutablePointer<Float>?) {
        let g = geometry, plane = g.outPlane
        let partial = slot == 0 ? gradWeight : partialWeights[slot]
        for n in images {
            let col = lowered(input, image: n, slot: slot)
            let rows = g.groupOutChannels, k = g.patchSize
            for group in 0..<g.groups {
                gemm.multiplySerial(slot: slot, m: rows, n: k, k: plane,
                                    a: gradOutput + n * g.outputImageSize + group * rows * plane, lda: plane,
                                    transposeA: false, b: col + group * k * plane, ldb: plane, transposeB: true,
                                    c: partial + group * rows * k, ldc: k, alpha: 1,
                                    beta: n == images.lowerBound ? 0 : 1)
            }
        }
        if let gradBias {
            let start = gradOutput + images.lowerBound * g.outputImageSize
            PatchLowering.biasGradient(g, batch: images.count, gradOutput: start,
                                       gradBias: slot == 0 ? gradBias : partialBias + slot * g.outChannels)
        }
    }

    /// What a forward task reads (C-convention tasks cannot capture; the caller keeps `self` alive).
    private struct ForwardPass {
        let kernel: Unmanaged<Im2ColConvolution>
        let input: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?
        let output: UnsafeMutablePointer<Float>
    }

    /// What a backwardData task reads.
    private struct BackwardDataPass {
        let kernel: Unmanaged<Im2ColConvolution>
        let gradOutput: UnsafePointer<Float>, weight: UnsafePointer<Float>
        let gradInput: UnsafeMutablePointer<Float>
    }

    /// What a backwardWeights task reads.
    private struct BackwardWeightsPass {
        let kernel: Unmanaged<Im2ColConvolution>
        let input: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>
        let gradWeight: UnsafeMutablePointer<Float>, gradBias: UnsafeMutablePointer<Float>?
    }
}
