/// im2col convolution for layers with few output pixels per image (ResNet's 8×8 and 4×4 stages):
/// a chunk of images side by side is one lowered matrix `col[Cin·KH·KW, images·OH·OW]` (packed into GEMM
/// panels straight from the images, `PatchPanels`), so each pass is one threaded GEMM with
/// N = images·OH·OW instead of one GEMM per image with N = OH·OW.
///
/// Why: at N = 16 (a 4×4 output) the 8×32 register tile is half empty and packing a 4608-deep weight
/// panel for 16 columns costs as much as the multiply; lowered over 64 images the same layer is a
/// 512×1024×4608 GEMM, the shape on which the GEMM runs near its peak.
///
/// - forward: `G[Cout, cols] = W · col` with col's panels packed straight from the images (`PatchPanels`,
///   no col written) → scatter G into NCHW with the bias.
/// - backwardWeights: gather gradOutput into G, `gradW (+)= G · colᵀ` (colᵀ's panels packed from the images).
/// - backwardData of plane-preserving layers (3×3 pad 1): the same-size convolution of gradOutput with the
///   flipped, transposed weights, `gradIn[Cin, cols] = W' · patches(gradOutput)` with the patches packed
///   from gradOutput (no col2im), scattered into NCHW. Other layers: gather, `gradCol = Wᵀ · G`, col2im per image.
///
/// Workspace: one `col` (Cin·KH·KW rows, Cin for plane-preserving layers) and one `G` for `chunk` images
/// (shared by the passes; one call at a time), the patch source tables and the flipped weights.
final class BatchedIm2ColConvolution: ConvolutionBackend {
    /// Columns (images·OH·OW) per GEMM the chunk is sized to reach: enough for every thread to get
    /// several 32-wide micro-panels and amortise packing the Cin·KH·KW-deep weight panels.
    static let targetColumns = 1024
    /// Layers with at most this many output pixels per image use batched lowering (larger planes
    /// already give the per-image GEMM a wide enough N).
    static let maximumOutPlane = 256

    let geometry: ConvolutionGeometry
    let kind = ConvolutionBackendKind.im2col
    var algorithm: String { "im2col/batched patch panels, \(gemm.target)" }
    private let gemm: GEMM
    private let threads: Int
    /// Images per chunk.
    let chunk: Int
    /// The data gradient's product: `gradCol[Cin·KH·KW, cols]` before col2im, or for plane-preserving
    /// layers `gradIn[Cin, cols]` (`colRows` rows either way).
    private let col: UnsafeMutablePointer<Float>
    private let colRows: Int
    private let gathered: UnsafeMutablePointer<Float>
    /// `PatchPanels.fillSourceTable` of `geometry`.
    private let sources: UnsafeMutablePointer<Int32>
    /// For plane-preserving layers, the convolution backwardData runs: gradOutput in, Cin out, the
    /// kernel flipped (padding KH − 1 − P), with its source table and flipped weights
    /// `W'[ci][(co·KH + kh)·KW + kw] = W[co][ci][KH − 1 − kh][KW − 1 − kw]`.
    private let transposedConvolution: (geometry: ConvolutionGeometry, sources: UnsafeMutablePointer<Int32>,
                                        weight: UnsafeMutablePointer<Float>)?
    /// True when the output plane is a multiple of 16: the forward and transposed-convolution GEMMs then
    /// write their C straight into NCHW (`CColumns.images`) instead of into `gathered`/`col` plus a
    /// scatter, and the weight gradient's GEMM reads gradOutput in NCHW as its A instead of a gathered
    /// copy — one pass less over the output or its gradient per pass.
    private var writesNCHW: Bool { geometry.outPlane % 16 == 0 }
    /// What `gathered` holds: gradOutput images `first..<first+count` of `gradOutput`, or nil.
    private var gatheredGradient: (gradOutput: UnsafePointer<Float>, first: Int, count: Int)?

    /// True when `geometry` benefits from batched lowering.
    /// Its lowering handles ungrouped, undilated convolutions with symmetric zero padding; other layers
    /// take the per-image im2col, which handles every option.
    static func prefers(_ geometry: ConvolutionGeometry) -> Bool {
        geometry.outPlane <= maximumOutPlane && geometry.batch > 1 && geometry.groups == 1
            && geometry.dilationHeight == 1 && geometry.dilationWidth == 1
            && geometry.paddingTop == geometry.paddingBottom && geometry.paddingLeft == geometry.paddingRight
            && geometry.paddingMode == .zeros
    }

    init(geometry g: ConvolutionGeometry, gemm: GEMM) {
        geometry = g
        self.gemm = gemm
        threads = gemm.slotCount
        chunk = BatchedIm2ColConvolution.chunk(g)
        colRows = BatchedIm2ColConvolution.colRows(g)
        col = GEMM.allocateAligned(colRows * chunk * g.outPlane)
        gathered = GEMM.allocateAligned(g.outChannels * chunk * g.outPlane)
        sources = .allocate(capacity: PatchPanels.sourceCount(g))
        PatchPanels.fillSourceTable(g, into: sources)
        if let t = BatchedIm2ColConvolution.transposed(g) {
            let table = UnsafeMutablePointer<Int32>.allocate(capacity: PatchPanels.sourceCount(t))
            PatchPanels.fillSourceTable(t, into: table)
            transposedConvolution = (t, table, GEMM.allocateAligned(g.weightCount))
        } else {
            transposedConvolution = nil
        }
    }

    deinit {
        col.deallocate()
        gathered.deallocate()
        sources.deallocate()
        transposedConvolution?.sources.deallocate()
        transposedConvolution?.weight.deallocate()
    }

    /// Images lowered into one GEMM.
    private static func chunk(_ g: ConvolutionGeometry) -> Int {
        max(1, min(g.batch, (targetColumns + g.outPlane - 1) / g.outPlane))
    }

    /// Rows of `col`: the channels when the lowering preserves the plane, else the patch.
    private static func colRows(_ g: ConvolutionGeometry) -> Int { PatchLowering.preservesPlane(g) ? g.inChannels : g.patchSize }

    /// The data gradient's transposed convolution, when the lowering preserves the plane.
    private static func transposed(_ g: ConvolutionGeometry) -> ConvolutionGeometry? {
        guard PatchLowering.preservesPlane(g) else { return nil }
        return ConvolutionGeometry(batch: g.batch, inChannels: g.outChannels, inHeight: g.outHeight,
                                   inWidth: g.outWidth, outChannels: g.inChannels, kernelHeight: g.kernelHeight,
                                   kernelWidth: g.kernelWidth, strideHeight: 1, strideWidth: 1,
                                   paddingTop: g.kernelHeight - 1 - g.paddingTop,
                                   paddingBottom: g.kernelHeight - 1 - g.paddingBottom,
                                   paddingLeft: g.kernelWidth - 1 - g.paddingLeft,
                                   paddingRight: g.kernelWidth - 1 - g.paddingRight)
    }

    /// `col` and `gathered` for a chunk, the source tables (Int32) and the transposed weight.
    static func memory(_ g: ConvolutionGeometry, threads: Int) -> MemoryFootprint? {
        let columns = chunk(g) * g.outPlane
        var workspace = MemoryFootprint.alignedFloats(colRows(g) * columns) + MemoryFootprint.alignedFloats(g.outChannels * columns)
            + 4 * Double(PatchPanels.sourceCount(g))
        if let t = transposed(g) { workspace += 4 * Double(PatchPanels.sourceCount(t)) + MemoryFootprint.alignedFloats(g.weightCount) }
        return MemoryFootprint(workspaceBytes: workspace)
    }

    func prepare(weight: UnsafePointer<Float>) {}

    // MARK: - Passes

    func forward(batch: Int, input: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                 output: UnsafeMutablePointer<Float>) {
        let g = geometry
        var first = 0
        while first < batch {
            let count = min(chunk, batch - first), columns = count * g.outPlane
            let patches = PatchPanels(geometry: g, images: input + first * g.inputImageSize, count: count,
                                      firstColumn: 0, sources: sources, transposed: false)
            let target = output + first * g.outputImageSize
            if writesNCHW {
                // The GEMM writes the images straight (onto the bias when there is one).
                if let bias { PatchLowering.fillBias(g, images: count, bias: bias, output: target) }
                gemm.multiply(m: g.outChannels, n: columns, k: g.patchSize, a: weight, lda: g.patchSize,
                              transposeA: false, b: .patches(patches), c: target, ldc: g.outPlane,
                              beta: bias == nil ? 0 : 1,
                              cImages: .images(plane: g.outPlane, imageStride: g.outChannels * g.outPlane))
            } else {
                gemm.multiply(m: g.outChannels, n: columns, k: g.patchSize, a: weight, lda: g.patchSize,
                              transposeA: false, b: .patches(patches), c: gathered, ldc: columns)
                move(rows: gathered, channels: g.outChannels, images: count, nchw: target, toNCHW: true, bias: bias)
            }
            first += count
        }
        gatheredGradient = nil
    }

    func backwardWeights(batch: Int, input: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>,
                         gradWeight: UnsafeMutablePointer<Float>, gradBias: UnsafeMutablePointer<Float>?) {
        let g = geometry
        if batch <= 0 {
            gradWeight.update(repeating: 0, count: g.outChannels * g.patchSize)
            gradBias?.update(repeating: 0, count: g.outChannels)
            return
        }
        var first = 0
        while first < batch {
            let count = min(chunk, batch - first), columns = count * g.outPlane
            let patches = PatchPanels(geometry: g, images: input + first * g.inputImageSize, count: count,
                                      firstColumn: 0, sources: sources, transposed: true)
            if writesNCHW {
                // A = G read straight from the NCHW gradOutput (no gather).
                gemm.multiply(m: g.outChannels, n: g.patchSize, k: columns, a: gradOutput + first * g.outputImageSize,
                              lda: g.outPlane, transposeA: false, b: .patches(patches), c: gradWeight,
                              ldc: g.patchSize, alpha: 1, beta: first == 0 ? 0 : 1,
                              aImages: .images(plane: g.outPlane, imageStride: g.outputImageSize))
            } else {
                gather(gradOutput: gradOutput, first: first, count: count)
                gemm.multiply(m: g.outChannels, n: g.patchSize, k: columns, a: gathered, lda: columns,
                              transposeA: false, b: .patches(patches), c: gradWeight, ldc: g.patchSize, alpha: 1,
                              beta: first == 0 ? 0 : 1)
            }
            first += count
        }
        if let gradBias { PatchLowering.biasGradient(g, batch: batch, gradOutput: gradOutput, gradBias: gradBias) }
    }

    func backwardData(batch: Int, gradOutput: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                      gradInput: UnsafeMutablePointer<Float>) {
        let g = geometry
        if let transposedConvolution {
            backwardData(batch: batch, gradOutput: gradOutput, weight: weight, gradInput: gradInput,
                         transposed: transposedConvolution)
            return
        }
        // Last chunk first: it is the one `backwardWeights` left gathered.
        var first = batch <= 0 ? 0 : (batch - 1) / chunk * chunk
        while first >= 0 && first < batch {
            let count = min(chunk, batch - first), columns = count * g.outPlane
            gather(gradOutput: gradOutput, first: first, count: count)
            gemm.multiply(m: g.patchSize, n: columns, k: g.outChannels, a: weight, lda: g.patchSize, transposeA: true,
                          b: gathered, ldb: columns, transposeB: false, c: col, ldc: columns)
            accumulateColumns(into: gradInput, first: first, count: count)
            first -= chunk
        }
        gatheredGradient = nil
    }

    /// backwardData as the transposed convolution (see the type's notes): flip the weights, then per chunk
    /// `gradIn[Cin, cols] = W' · patches(gradOutput)` into `col`'s first Cin rows, scattered into NCHW.
    private func backwardData(batch: Int, gradOutput: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                              gradInput: UnsafeMutablePointer<Float>,
                              transposed: (geometry: ConvolutionGeometry, sources: UnsafeMutablePointer<Int32>,
                                           weight: UnsafeMutablePointer<Float>)) {
        let g = geometry, t = transposed.geometry
        flip(weight, into: transposed.weight)
        var first = 0
        while first < batch {
            let count = min(chunk, batch - first), columns = count * g.outPlane
            let patches = PatchPanels(geometry: t, images: gradOutput + first * g.outputImageSize, count: count,
                                      firstColumn: 0, sources: transposed.sources, transposed: false)
            let target = gradInput + first * g.inputImageSize
            if writesNCHW {
                gemm.multiply(m: t.outChannels, n: columns, k: t.patchSize, a: transposed.weight, lda: t.patchSize,
                              transposeA: false, b: .patches(patches), c: target, ldc: g.outPlane,
                              cImages: .images(plane: g.outPlane, imageStride: g.inChannels * g.outPlane))
            } else {
                gemm.multiply(m: t.outChannels, n: columns, k: t.patchSize, a: transposed.weight, lda: t.patchSize,
                              transposeA: false, b: .patches(patches), c: col, ldc: columns)
                move(rows: col, channels: g.inChannels, images: count, nchw: target, toNCHW: true, bias: nil)
            }
            first += count
        }
    }

    /// `W'[ci][(co·KH + kh)·KW + kw] = W[co][ci][KH − 1 − kh][KW − 1 − kw]`, threaded over ci with the
    /// writes contiguous (at layer4, 512×512×9, the serial co-outer loop was ≈ 2 ms of strided stores
    /// with the other thread idle).
    private func flip(_ weight: UnsafePointer<Float>, into flipped: UnsafeMutablePointer<Float>) {
        let g = geometry
        let job = FlipJob(weight: weight, flipped: flipped, inChannels: g.inChannels, outChannels: g.outChannels,
                          taps: g.kernelHeight * g.kernelWidth)
        gemm.pool.forEachPart(of: g.inChannels, parts: min(threads, g.inChannels), context: job) { raw, _, start, end in
            let job = raw.load(as: FlipJob.self)
            let taps = job.taps, depth = job.outChannels * taps
            for ci in start..<end {
                var target = job.flipped + ci * depth
                for co in 0..<job.outChannels {
                    let source = job.weight + (co * job.inChannels + ci) * taps
                    for tap in 0..<taps { target[tap] = source[taps - 1 - tap] }
                    target += taps
                }
            }
        }
    }

    private struct FlipJob {
        let weight: UnsafePointer<Float>
        let flipped: UnsafeMutablePointer<Float>
        let inChannels: Int, outChannels: Int, taps: Int
    }

    // MARK: - col2im, threaded over images

    /// col2im of `col` (row stride count·OH·OW) into images `first..<first+count` of `gradInput`.
    private func accumulateColumns(into gradInput: UnsafeMutablePointer<Float>, first: Int, count: Int) {
        let job = ImageJob(kernel: Unmanaged.passUnretained(self), target: gradInput + first * geometry.inputImageSize,
                           count: count)
        gemm.pool.forEachPart(of: count, parts: min(threads, count), context: job) { raw, _, start, end in
            let job = raw.load(as: ImageJob.self)
            let kernel = job.kernel.takeUnretainedValue(), g = kernel.geometry
            for image in start..<end {
                PatchLowering.col2im(g, col: kernel.col + image * g.outPlane, rowStride: job.count * g.outPlane,
                                     image: job.target + image * g.inputImageSize)
            }
        }
    }

    /// Copies gradOutput images `first..<first+count` into `gathered` as [Cout, count·OH·OW], unless it holds them.
    private func gather(gradOutput: UnsafePointer<Float>, first: Int, count: Int) {
        if let held = gatheredGradient, held.gradOutput == gradOutput, held.first == first, held.count == count { return }
        move(rows: gathered, channels: geometry.outChannels, images: count,
             nchw: UnsafeMutablePointer(mutating: gradOutput + first * geometry.outputImageSize), toNCHW: false, bias: nil)
        gatheredGradient = (gradOutput, first, count)
    }

    /// Moves `count` images of `channels` OH×OW planes between NCHW (`nchw`) and `rows`
    /// ([channels, count·OH·OW]), in the direction `toNCHW` (adding `bias` per channel), threaded over channels.
    private func move(rows: UnsafeMutablePointer<Float>, channels: Int, images count: Int, nchw: UnsafeMutablePointer<Float>,
                      toNCHW: Bool, bias: UnsafePointer<Float>?) {
        let job = MoveJob(rows: rows, channels: channels, plane: geometry.outPlane, nchw: nchw, bias: bias, count: count,
                          toNCHW: toNCHW)
        gemm.pool.forEachPart(of: channels, parts: min(threads, channels), context: job) { raw, _, start, end in
            let job = raw.load(as: MoveJob.self)
            let plane = job.plane
            for channel in start..<end {
                let row = job.rows + channel * job.count * plane
                let shift = job.bias?[channel] ?? 0
                for image in 0..<job.count {
                    let planePointer = job.nchw + (image * job.channels + channel) * plane
                    let rowPart = row + image * plane
                    if !job.toNCHW {
                        rowPart.update(from: planePointer, count: plane)
                    } else if job.bias == nil {
                        planePointer.update(from: rowPart, count: plane)
                    } else {
                        for p in 0..<plane { planePointer[p] = rowPart[p] + shift }
                    }
                }
            }
        }
    }

    /// What an image-parallel task reads (C-convention tasks cannot capture; the caller keeps `self` alive).
    private struct ImageJob {
        let kernel: Unmanaged<BatchedIm2ColConvolution>
        let target: UnsafeMutablePointer<Float>
        let count: Int
    }

    /// What a channel-parallel scatter/gather task reads.
    private struct MoveJob {
        let rows: UnsafeMutablePointer<Float>
        let channels: Int, plane: Int
        let nchw: UnsafeMutablePointer<Float>
        let bias: UnsafePointer<Float>?
        let count: Int
        let toNCHW: Bool
    }
}
