/// Convolution by the definition's loops, vectorised with `WideConvolution` (SIMD16 over output pixels of
/// the padded "wide" grid, register-blocked 4 output channels × 64 pixels) and threaded over images.
///
/// - forward: each image is zero-padded into a per-thread buffer, convolved on the stride-1 wide grid for
///   4 output channels at a time, then the valid (every S-th) pixels are copied out with the bias.
/// - backwardData: the transposed convolution — gradOutput is dilated by the stride and padded by K−1−P,
///   then convolved with the flipped, channel-swapped kernel (the same vectorised kernel).
/// - backwardWeights: gradOutput is scattered onto the wide grid (zeros elsewhere) and correlated with the
///   padded input, 4 output channels × 4 kernel columns per register block; per-thread sums are added.
/// Strided layers compute the full stride-1 grid and keep every S-th pixel (S_h·S_w× the work).
final class DirectConvolution: ConvolutionKernel {
    let geometry: ConvolutionGeometry
    let kind = ConvolutionBackendKind.direct
    private let pool: ThreadPool
    private let threads: Int
    private let forwardGrid: WideGrid
    private let backwardGrid: WideGrid
    private let outBlocks: Int
    private let inBlocks: Int
    private let bufferSize: Int
    private let wideSize: Int
    private let buffers: [UnsafeMutablePointer<Float>]
    private let wide: [UnsafeMutablePointer<Float>]
    private let partialWeights: [UnsafeMutablePointer<Float>]
    private let partialBias: UnsafeMutablePointer<Float>
    private let forwardWeights: UnsafeMutablePointer<Float>
    private let backwardWeights: UnsafeMutablePointer<Float>
    /// Weight-gradient layout when `StackedGrid.supports` the geometry (else the per-image wide grid is used).
    private let stackedGrid: StackedGrid?
    private let stackedInputs: [UnsafeMutablePointer<Float>]
    private let stackedGradients: [UnsafeMutablePointer<Float>]
    /// `StackedGrid.tapOffset` of every patch entry, padded to whole `StackedCorrelation` tiles.
    private let patchOffsets: UnsafeMutablePointer<Int>
    /// Floats of one thread's stacked input + gradient block the image count per block is sized to (L2-resident).
    static let stackedBlockFloats = 65_536
    /// Fused ReLU → pool run on each finished output plane (see `ReLUPoolingEpilogue`).
    var epilogue: ReLUPoolingEpilogue?

    init(geometry g: ConvolutionGeometry, gemm: GEMM) {
        geometry = g
        pool = gemm.pool
        threads = gemm.slotCount
        forwardGrid = WideGrid(rows: g.inHeight + 2 * g.paddingHeight, width: g.inWidth + 2 * g.paddingWidth,
                               kernelHeight: g.kernelHeight, kernelWidth: g.kernelWidth)
        backwardGrid = WideGrid(rows: g.inHeight + g.kernelHeight - 1, width: g.inWidth + g.kernelWidth - 1,
                                kernelHeight: g.kernelHeight, kernelWidth: g.kernelWidth)
        outBlocks = (g.outChannels + 3) / 4
        inBlocks = (g.inChannels + 3) / 4
        let bufferSize = max(forwardGrid.bufferSize(channels: g.inChannels),
                             backwardGrid.bufferSize(channels: g.outChannels))
        let wideSize = max(4 * backwardGrid.paddedOutput, 4 * outBlocks * forwardGrid.paddedOutput)
        self.bufferSize = bufferSize
        self.wideSize = wideSize
        let weightCount = g.outChannels * g.patchSize
        buffers = (0..<threads).map { _ in GEMM.allocateAligned(bufferSize) }
        wide = (0..<threads).map { _ in GEMM.allocateAligned(wideSize) }
        partialWeights = (0..<threads).map { _ in GEMM.allocateAligned(weightCount) }
        partialBias = GEMM.allocateAligned(threads * g.outChannels)
        forwardWeights = GEMM.allocateAligned(4 * outBlocks * g.patchSize)
        backwardWeights = GEMM.allocateAligned(4 * inBlocks * g.outChannels * g.kernelHeight * g.kernelWidth)
        let tiles = (g.patchSize + StackedCorrelation.tapsPerTile - 1) / StackedCorrelation.tapsPerTile
        patchOffsets = UnsafeMutablePointer<Int>.allocate(capacity: tiles * StackedCorrelation.tapsPerTile)
        patchOffsets.initialize(repeating: 0, count: tiles * StackedCorrelation.tapsPerTile)
        if StackedGrid.supports(g) {
            let probe = StackedGrid(g, images: 1)
            let perImage = (g.inChannels + 4 * outBlocks) * probe.imagePlane
            let grid = StackedGrid(g, images: max(1, min(g.batch, DirectConvolution.stackedBlockFloats / perImage)))
            stackedGrid = grid
            let inputSize = g.inChannels * grid.channelStride
            stackedInputs = (0..<threads).map { _ in GEMM.allocateAligned(inputSize) }
            let gradientSize = 4 * outBlocks * grid.length(images: grid.images)
            stackedGradients = (0..<threads).map { _ in GEMM.allocateAligned(gradientSize) }
            var p = 0
            for ci in 0..<g.inChannels {
                for kh in 0..<g.kernelHeight {
                    for kw in 0..<g.kernelWidth {
                        patchOffsets[p] = grid.tapOffset(channel: ci, row: kh, column: kw)
                        p += 1
                    }
                }
            }
        } else {
            stackedGrid = nil
            stackedInputs = []
            stackedGradients = []
        }
    }

    deinit {
        (buffers + wide + partialWeights + stackedInputs + stackedGradients).forEach { $0.deallocate() }
        patchOffsets.deallocate()
        partialBias.deallocate()
        forwardWeights.deallocate()
        backwardWeights.deallocate()
    }

    var workspaceBytes: Int {
        let g = geometry
        var perThread = bufferSize + wideSize + g.outChannels * g.patchSize + g.outChannels
        if let grid = stackedGrid {
            perThread += g.inChannels * grid.channelStride + 4 * outBlocks * grid.length(images: grid.images)
        }
        return 4 * (threads * perThread + 4 * outBlocks * g.patchSize
            + 4 * inBlocks * g.outChannels * g.kernelHeight * g.kernelWidth)
    }

    func prepare(weight: UnsafePointer<Float>) {}

    /// Runs `body(context, slot, start, end)` over contiguous image ranges, one per pool thread.
    private func forEachImageRange<Context>(batch: Int, context: Context, _ body: ParallelPartTask) {
        pool.forEachPart(of: batch, parts: min(threads, batch), context: context, body)
    }

    /// Zeroes `count` floats of `buffer`, then writes source[c][y][x] at buffer[c·channelStride + (y·sy + oy)·width + x·sx + ox]
    /// where that lies inside rows × width.
    private static func place(_ source: UnsafePointer<Float>, channels: Int, height: Int, width sourceWidth: Int,
                              strideY: Int, strideX: Int, offsetY: Int, offsetX: Int,
                              into buffer: UnsafeMutablePointer<Float>, count: Int, channelStride: Int,
                              rows: Int, width: Int) {
        buffer.update(repeating: 0, count: count)
        // Source columns x with 0 ≤ x·strideX + offsetX < width.
        let firstColumn = offsetX >= 0 ? 0 : (-offsetX + strideX - 1) / strideX
        let endColumn = width - 1 - offsetX < 0 ? 0 : min(sourceWidth, (width - 1 - offsetX) / strideX + 1)
        if firstColumn >= endColumn { return }
        for c in 0..<channels {
            for y in 0..<height {
                let row = y * strideY + offsetY
                if row < 0 || row >= rows { continue }
                let from = source + (c * height + y) * sourceWidth
                let to = buffer + c * channelStride + row * width + offsetX
                if strideX == 1 {
                    (to + firstColumn).update(from: from + firstColumn, count: endColumn - firstColumn)
                } else {
                    for x in firstColumn..<endColumn { to[x * strideX] = from[x] }
                }
            }
        }
    }

    func forward(batch: Int, input: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                 output: UnsafeMutablePointer<Float>) {
        let g = geometry, taps = g.patchSize
        // packed[block][ci][kh][kw][j] = weight[4·block + j][ci][kh][kw]
        for block in 0..<outBlocks {
            for j in 0..<4 {
                let co = 4 * block + j
                for t in 0..<taps { forwardWeights[(block * taps + t) * 4 + j] = co < g.outChannels ? weight[co * taps + t] : 0 }
            }
        }
        let pass = ForwardPass(kernel: Unmanaged.passUnretained(self), input: input, bias: bias, output: output)
        forEachImageRange(batch: batch, context: pass) { raw, slot, first, end in
            let pass = raw.load(as: ForwardPass.self)
            pass.kernel.takeUnretainedValue().forward(images: first..<end, slot: slot, input: pass.input, bias: pass.bias,
                                                      output: pass.output)
        }
    }

    /// One thread's share of `forward`, with the packed `forwardWeights`.
    private func forward(images: Range<Int>, slot: Int, input: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                         output: UnsafeMutablePointer<Float>) {
        let g = geometry, grid = forwardGrid, taps = g.patchSize
        let oh = g.outHeight, ow = g.outWidth
        let buffer = buffers[slot], y = wide[slot]
        for n in images {
            DirectConvolution.place(input + n * g.inputImageSize, channels: g.inChannels, height: g.inHeight,
                                    width: g.inWidth, strideY: 1, strideX: 1, offsetY: g.paddingHeight,
                                    offsetX: g.paddingWidth, into: buffer, count: bufferSize,
                                    channelStride: grid.plane, rows: grid.rows, width: grid.width)
            for block in 0..<outBlocks {
                WideConvolution.convolve(grid: grid, channels: g.inChannels, x: buffer,
                                         weights: forwardWeights + block * taps * 4, y: y)
                for j in 0..<min(4, g.outChannels - 4 * block) {
                    let co = 4 * block + j
                    let out = epilogue?.planeTarget(slot: slot) ?? output + (n * g.outChannels + co) * oh * ow
                    let source = y + j * grid.paddedOutput
                    let shift = bias?[co] ?? 0
                    for r in 0..<oh {
                        let line = source + r * g.strideHeight * grid.width
                        let target = out + r * ow
                        if g.strideWidth == 1 {
                            for x in 0..<ow { target[x] = line[x] + shift }
                        } else {
                            for x in 0..<ow { target[x] = line[x * g.strideWidth] + shift }
                        }
                    }
                    epilogue?.finish(plane: out, image: n, channel: co)
                }
            }
        }
    }

    func backwardData(batch: Int, gradOutput: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                      gradInput: UnsafeMutablePointer<Float>) {
        let g = geometry, kh = g.kernelHeight, kw = g.kernelWidth, taps = kh * kw
        let perBlock = g.outChannels * taps
        // packed[block][co][a][b][j] = weight[co][4·block + j][KH−1−a][KW−1−b]
        for block in 0..<inBlocks {
            for j in 0..<4 {
                let ci = 4 * block + j
                for co in 0..<g.outChannels {
                    for t in 0..<taps {
                        let flipped = taps - 1 - t
                        backwardWeights[(block * perBlock + co * taps + t) * 4 + j] =
                            ci < g.inChannels ? weight[(co * g.inChannels + ci) * taps + flipped] : 0
                    }
                }
            }
        }
        let pass = BackwardDataPass(kernel: Unmanaged.passUnretained(self), gradOutput: gradOutput, gradInput: gradInput)
        forEachImageRange(batch: batch, context: pass) { raw, slot, first, end in
            let pass = raw.load(as: BackwardDataPass.self)
            pass.kernel.takeUnretainedValue().backwardData(images: first..<end, slot: slot, gradOutput: pass.gradOutput,
                                                           gradInput: pass.gradInput)
        }
    }

    /// One thread's share of `backwardData`, with the packed `backwardWeights`.
    private func backwardData(images: Range<Int>, slot: Int, gradOutput: UnsafePointer<Float>,
                              gradInput: UnsafeMutablePointer<Float>) {
        let g = geometry, grid = backwardGrid, kh = g.kernelHeight, kw = g.kernelWidth, taps = kh * kw
        let perBlock = g.outChannels * taps
        let buffer = buffers[slot], y = wide[slot]
        for n in images {
            DirectConvolution.place(gradOutput + n * g.outputImageSize, channels: g.outChannels,
                                    height: g.outHeight, width: g.outWidth, strideY: g.strideHeight,
                                    strideX: g.strideWidth, offsetY: kh - 1 - g.paddingHeight,
                                    offsetX: kw - 1 - g.paddingWidth, into: buffer, count: bufferSize,
                                    channelStride: grid.plane, rows: grid.rows, width: grid.width)
            for block in 0..<inBlocks {
                WideConvolution.convolve(grid: grid, channels: g.outChannels, x: buffer,
                                         weights: backwardWeights + block * perBlock * 4, y: y)
                for j in 0..<min(4, g.inChannels - 4 * block) {
                    let ci = 4 * block + j
                    let target = gradInput + (n * g.inChannels + ci) * g.inHeight * g.inWidth
                    let source = y + j * grid.paddedOutput
                    for r in 0..<g.inHeight {
                        (target + r * g.inWidth).update(from: source + r * grid.width, count: g.inWidth)
                    }
                }
            }
        }
    }

    func backwardWeights(batch: Int, input: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>,
                         gradWeight: UnsafeMutablePointer<Float>, gradBias: UnsafeMutablePointer<Float>?) {
        let g = geometry, weightCount = g.outChannels * g.patchSize
        let tasks = min(threads, batch)
        gradWeight.update(repeating: 0, count: weightCount)
        let pass = BackwardWeightsPass(kernel: Unmanaged.passUnretained(self), input: input, gradOutput: gradOutput,
                                       gradWeight: gradWeight, gradBias: gradBias)
        forEachImageRange(batch: batch, context: pass) { raw, slot, first, end in
            let pass = raw.load(as: BackwardWeightsPass.self)
            pass.kernel.takeUnretainedValue().backwardWeights(images: first..<end, slot: slot, input: pass.input,
                                                              gradOutput: pass.gradOutput, gradWeight: pass.gradWeight,
                                                              gradBias: pass.gradBias)
        }
        if batch <= 0 { gradBias?.update(repeating: 0, count: g.outChannels); return }
        ConvolutionReduction.addPartials(weights: partialWeights, bias: partialBias, slots: tasks, into: gradWeight,
                                         gradBias: gradBias, weightCount: weightCount, outChannels: g.outChannels)
    }

    /// One thread's share of `backwardWeights`: slot 0 accumulates into `gradWeight`/`gradBias`, other
    /// slots into their partials.
    private func backwardWeights(images: Range<Int>, slot: Int, input: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>,
                                 gradWeight: UnsafeMutablePointer<Float>, gradBias: UnsafeMutablePointer<Float>?) {
        let g = geometry, grid = forwardGrid, weightCount = g.outChannels * g.patchSize
        let buffer = buffers[slot], gradGrid = wide[slot]
        let partial = slot == 0 ? gradWeight : partialWeights[slot]
        if slot != 0 { partial.update(repeating: 0, count: weightCount) }
        if let stacked = stackedGrid {
            let x = stackedInputs[slot], gradGrid = stackedGradients[slot]
            var first = images.lowerBound
            while first < images.upperBound {
                let count = min(stacked.images, images.upperBound - first)
                StackedCorrelation.placeInput(input + first * g.inputImageSize, images: count,
                                              channels: g.inChannels, grid: stacked, into: x)
                StackedCorrelation.placeGradient(gradOutput + first * g.outputImageSize, images: count,
                                                 channels: g.outChannels, rows: 4 * outBlocks, grid: stacked,
                                                 into: gradGrid)
                StackedCorrelation.accumulate(grid: stacked, images: count, input: x, gradient: gradGrid,
                                              outChannels: g.outChannels, offsets: patchOffsets,
                                              patchSize: g.patchSize, partial: partial)
                first += count
            }
        }
        for n in images where stackedGrid == nil {
            DirectConvolution.place(input + n * g.inputImageSize, channels: g.inChannels, height: g.inHeight,
                                    width: g.inWidth, strideY: 1, strideX: 1, offsetY: g.paddingHeight,
                                    offsetX: g.paddingWidth, into: buffer, count: bufferSize,
                                    channelStride: grid.plane, rows: grid.rows, width: grid.width)
            DirectConvolution.place(gradOutput + n * g.outputImageSize, channels: g.outChannels,
                                    height: g.outHeight, width: g.outWidth, strideY: g.strideHeight,
                                    strideX: g.strideWidth, offsetY: 0, offsetX: 0, into: gradGrid,
                                    count: 4 * outBlocks * grid.paddedOutput, channelStride: grid.paddedOutput,
                                    rows: grid.outRows, width: grid.width)
            WideConvolution.correlate(grid: grid, channels: g.inChannels, outChannels: g.outChannels,
                                      x: buffer, g: gradGrid, partial: partial)
        }
        if let gradBias {
            PatchLowering.biasGradient(g, batch: images.count, gradOutput: gradOutput + images.lowerBound * g.outputImageSize,
                                       gradBias: slot == 0 ? gradBias : partialBias + slot * g.outChannels)
        }
    }

    /// What a forward task reads (C-convention tasks cannot capture; the caller keeps `self` alive).
    private struct ForwardPass {
        let kernel: Unmanaged<DirectConvolution>
        let input: UnsafePointer<Float>, bias: UnsafePointer<Float>?
        let output: UnsafeMutablePointer<Float>
    }

    /// What a backwardData task reads.
    private struct BackwardDataPass {
        let kernel: Unmanaged<DirectConvolution>
        let gradOutput: UnsafePointer<Float>
        let gradInput: UnsafeMutablePointer<Float>
    }

    /// What a backwardWeights task reads.
    private struct BackwardWeightsPass {
        let kernel: Unmanaged<DirectConvolution>
        let input: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>
        let gradWeight: UnsafeMutablePointer<Float>, gradBias: UnsafeMutablePointer<Float>?
    }
}
