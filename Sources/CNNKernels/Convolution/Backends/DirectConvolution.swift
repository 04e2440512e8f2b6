/// Convolution by the definition's loops, threaded over images. Whole blocks of 16 images of stride-1,
/// ungrouped, undilated layers run with the images in the SIMD lanes (`LaneConvolution`, an even number of
/// blocks per thread); the remaining images (and every image of other layers) run one at a time on the
/// "wide" grid below, vectorised with `WideConvolution` (SIMD16 over output pixels of the padded grid,
/// register-blocked 4 output channels × 64 pixels).
///
/// - forward: each image is zero-padded into a per-thread buffer, convolved on the stride-1 wide grid for
///   4 output channels at a time, then the valid (every S-th) pixels are copied out with the bias.
/// - backwardData: the transposed convolution — gradOutput is dilated by the stride and padded by K−1−P,
///   then convolved with the flipped, channel-swapped kernel (the same vectorised kernel).
/// - backwardWeights: gradOutput is scattered onto the wide grid (zeros elsewhere) and correlated with the
///   padded input, 4 output channels × 4 kernel columns per register block; per-thread sums are added.
/// Strided layers compute the full stride-1 grid and keep every S-th pixel (S_h·S_w× the work).
/// Dilation spaces the taps on the wide grid; asymmetric padding only moves where images are placed; with
/// groups the register blocks run per group over that group's channels of the shared buffers (blocks of
/// 4 output channels never straddle two groups).
final class DirectConvolution: ConvolutionBackend {
    let geometry: ConvolutionGeometry
    let kind = ConvolutionBackendKind.direct
    var algorithm: String {
        let layout = laneInputGrid != nil ? "direct/lanes (wide for the rest)" : "direct/wide"
        let tile: String
        if laneInputGrid != nil {
            tile = "\(target.rawValue) lane tile \(target.laneTile.channels)×\(target.laneTile.pixels)"
        } else {
            tile = "\(target.rawValue) wide tile \(WideConvolution.blockChannels)×\(target.wideTile.vectors * target.vectorWidth)"
        }
        return layout + (stackedGrid != nil ? ", weights stacked" : ", weights wide") + ", " + tile
    }
    private let pool: ThreadPool
    private let threads: Int
    /// The kernel target whose register tiles the lane and weight-gradient loops use.
    private let target: KernelTarget
    private let forwardGrid: WideGrid
    private let backwardGrid: WideGrid
    /// 4-channel blocks of one group's output / input channels.
    private let outBlocks: Int
    private let inBlocks: Int
    /// Channel rows of the weight-gradient grid: the last group's blocks may reach past Cout.
    private let gradientRows: Int
    private let bufferSize: Int
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
    /// `StackedGrid.tapOffset` of every patch entry, padded to whole `CorrelationTile`s.
    private let patchOffsets: UnsafeMutablePointer<Int>?
    /// Floats of one thread's stacked input + gradient block the image count per block is sized to (L2-resident).
    static let stackedBlockFloats = 65_536
    /// Fused ReLU → pool run on each finished output plane (see `ReLUPoolingEpilogue`).
    var epilogue: ReLUPoolingEpilogue?
    /// Blocks of 16 images in lanes (`LaneConvolution`) when `LaneGrid.supports` the geometry and the batch
    /// capacity fills a block per thread: the padded input, the padded output gradient (input-gradient
    /// pass) and the output gradient (weight-gradient pass).
    private let laneInputGrid: LaneGrid?
    private let laneGradientGrid: LaneGrid?
    private let laneOutputGrid: LaneGrid?
    /// Per slot: the block being convolved, its results (every channel), the weight-gradient block, and the
    /// per-lane weight-gradient sums ([weightCount][16]).
    private let laneInputs: [UnsafeMutablePointer<Float>]
    private let laneResults: [UnsafeMutablePointer<Float>]
    private let laneGradients: [UnsafeMutablePointer<Float>]
    private let lanePartials: [UnsafeMutablePointer<Float>]
    /// Per slot: one channel of 16 images transposed on its way into a padded block (`LaneGrid.place`).
    private let laneScratch: [UnsafeMutablePointer<Float>]
    /// Offset (floats) of every patch entry in `laneInputGrid`, padded to whole `CorrelationTile`s.
    private let laneOffsets: UnsafeMutablePointer<Int>?

    /// The grids and buffer sizes for `g` on `threads` slots: what `init` allocates and `memory` states.
    private struct Layout {
        let forwardGrid: WideGrid, backwardGrid: WideGrid
        let outBlocks: Int, inBlocks: Int, gradientRows: Int, bufferSize: Int, wideSize: Int
        let stackedGrid: StackedGrid?
        /// Per thread, the stacked input and gradient blocks.
        let stackedSizes: [Int]
        let laneGrids: (input: LaneGrid, gradient: LaneGrid, output: LaneGrid)?
        /// Per thread, the five lane buffers (see `laneInputs` … `laneScratch`).
        let laneSizes: [Int]

        init(_ g: ConvolutionGeometry, threads: Int) {
            forwardGrid = WideGrid(rows: g.paddedHeight, width: g.paddedWidth, kernelHeight: g.kernelHeight,
                                   kernelWidth: g.kernelWidth, dilationHeight: g.dilationHeight,
                                   dilationWidth: g.dilationWidth)
            backwardGrid = WideGrid(rows: g.inHeight + g.kernelExtentHeight - 1, width: g.inWidth + g.kernelExtentWidth - 1,
                                    kernelHeight: g.kernelHeight, kernelWidth: g.kernelWidth,
                                    dilationHeight: g.dilationHeight, dilationWidth: g.dilationWidth)
            outBlocks = (g.groupOutChannels + 3) / 4
            inBlocks = (g.groupInChannels + 3) / 4
            gradientRows = (g.groups - 1) * g.groupOutChannels + 4 * outBlocks
            bufferSize = max(forwardGrid.bufferSize(channels: g.inChannels), backwardGrid.bufferSize(channels: g.outChannels))
            wideSize = max(4 * backwardGrid.paddedOutput, gradientRows * forwardGrid.paddedOutput)
            if StackedGrid.supports(g) {
                let probe = StackedGrid(g, images: 1)
                let perImage = (g.inChannels + 4 * outBlocks) * probe.imagePlane
                let grid = StackedGrid(g, images: max(1, min(g.batch, DirectConvolution.stackedBlockFloats / perImage)))
                stackedGrid = grid
                stackedSizes = [g.inChannels * grid.channelStride, 4 * outBlocks * grid.length(images: grid.images)]
            } else {
                stackedGrid = nil
                stackedSizes = []
            }
            if LaneGrid.supports(g) && LaneSplit(batch: g.batch, threads: threads, lanesAllowed: true).blocks > 0 {
                let input = LaneGrid(channels: g.inChannels, rows: g.paddedHeight, width: g.paddedWidth)
                let gradient = LaneGrid(channels: g.outChannels, rows: g.inHeight + g.kernelHeight - 1,
                                        width: g.inWidth + g.kernelWidth - 1)
                let output = LaneGrid(channels: 4 * outBlocks, rows: g.outHeight, width: g.outWidth)
                laneGrids = (input, gradient, output)
                laneSizes = [max(input.count, gradient.count),
                             4 * LaneGrid.lanes * max(outBlocks * g.outPlane, inBlocks * g.inHeight * g.inWidth),
                             output.count, g.weightCount * LaneGrid.lanes,
                             LaneGrid.lanes * max(g.inHeight * g.inWidth, g.outPlane)]
            } else {
                laneGrids = nil
                laneSizes = []
            }
        }

        /// Per-thread buffers and the packed weights; the offset tables count as workspace too.
        func memory(_ g: ConvolutionGeometry, threads: Int) -> MemoryFootprint {
            let aligned = MemoryFootprint.alignedFloats
            let perThread = ([bufferSize, wideSize, g.weightCount] + stackedSizes + laneSizes).map(aligned).reduce(0, +)
            let offsets = 8 * Double(CorrelationTile.patchOffsetCount(g)) * Double((stackedGrid == nil ? 0 : 1) + (laneGrids == nil ? 0 : 1))
            return MemoryFootprint(
                workspaceBytes: Double(threads) * perThread + aligned(threads * g.outChannels) + offsets,
                persistentBytes: aligned(g.groups * 4 * outBlocks * g.patchSize)
                    + aligned(g.groups * 4 * inBlocks * g.groupOutChannels * g.kernelHeight * g.kernelWidth))
        }
    }

    static func memory(_ g: ConvolutionGeometry, threads: Int) -> MemoryFootprint? {
        Layout(g, threads: threads).memory(g, threads: threads)
    }

    init(geometry g: ConvolutionGeometry, gemm: GEMM) {
        geometry = g
        pool = gemm.pool
        threads = gemm.slotCount
        target = gemm.target
        let layout = Layout(g, threads: threads)
        forwardGrid = layout.forwardGrid
        backwardGrid = layout.backwardGrid
        outBlocks = layout.outBlocks
        inBlocks = layout.inBlocks
        gradientRows = layout.gradientRows
        let bufferSize = layout.bufferSize, wideSize = layout.wideSize, weightCount = g.weightCount
        self.bufferSize = bufferSize
        buffers = (0..<threads).map { _ in GEMM.allocateAligned(bufferSize) }
        wide = (0..<threads).map { _ in GEMM.allocateAligned(wideSize) }
        partialWeights = (0..<threads).map { _ in GEMM.allocateAligned(weightCount) }
        partialBias = GEMM.allocateAligned(threads * g.outChannels)
        forwardWeights = GEMM.allocateAligned(g.groups * 4 * outBlocks * g.patchSize)
        backwardWeights = GEMM.allocateAligned(g.groups * 4 * inBlocks * g.groupOutChannels * g.kernelHeight * g.kernelWidth)
        stackedGrid = layout.stackedGrid
        if let grid = layout.stackedGrid {
            let sizes = layout.stackedSizes
            stackedInputs = (0..<threads).map { _ in GEMM.allocateAligned(sizes[0]) }
            stackedGradients = (0..<threads).map { _ in GEMM.allocateAligned(sizes[1]) }
            patchOffsets = CorrelationTile.patchOffsets(g) { grid.tapOffset(channel: $0, row: $1, column: $2) }
        } else {
            stackedInputs = []
            stackedGradients = []
            patchOffsets = nil
        }
        if let (input, gradient, output) = layout.laneGrids {
            let sizes = layout.laneSizes
            laneInputGrid = input
            laneGradientGrid = gradient
            laneOutputGrid = output
            laneInputs = (0..<threads).map { _ in GEMM.allocateAligned(sizes[0]) }
            laneResults = (0..<threads).map { _ in GEMM.allocateAligned(sizes[1]) }
            laneGradients = (0..<threads).map { _ in GEMM.allocateAligned(sizes[2]) }
            lanePartials = (0..<threads).map { _ in GEMM.allocateAligned(sizes[3]) }
            laneScratch = (0..<threads).map { _ in GEMM.allocateAligned(sizes[4]) }
            laneOffsets = CorrelationTile.patchOffsets(g) { ci, kh, kw in
                ci * input.plane + (kh * input.width + kw) * LaneGrid.lanes
            }
        } else {
            laneInputGrid = nil
            laneGradientGrid = nil
            laneOutputGrid = nil
            laneInputs = []
            laneResults = []
            laneGradients = []
            lanePartials = []
            laneScratch = []
            laneOffsets = nil
        }
    }

    deinit {
        (buffers + wide + partialWeights + stackedInputs + stackedGradients).forEach { $0.deallocate() }
        (laneInputs + laneResults + laneGradients + lanePartials + laneScratch).forEach { $0.deallocate() }
        patchOffsets?.deallocate()
        laneOffsets?.deallocate()
        partialBias.deallocate()
        forwardWeights.deallocate()
        backwardWeights.deallocate()
    }

    func prepare(weight: UnsafePointer<Float>) {}

    /// How `batch` images are shared among the threads and between lanes and the wide grid.
    func imagesExpandedByEpilogue(batch: Int) -> Int {
        epilogue?.runsInLanes == true ? split(batch: batch).blocks * LaneGrid.lanes : 0
    }

    private func split(batch: Int) -> LaneSplit {
        LaneSplit(batch: batch, threads: threads, lanesAllowed: laneInputGrid != nil)
    }

    /// Blocks of 16 images a pass over `batch` images runs in lanes.
    func laneBlocks(batch: Int) -> Int { split(batch: batch).blocks }

    /// Runs `body(context, part, part, part + 1)` for every part of `split`, one per pool thread.
    private func forEachPart<Context>(_ split: LaneSplit, context: Context, _ body: ParallelPartTask) {
        pool.forEachPart(of: split.parts, parts: split.parts, context: context, body)
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
        let g = geometry, taps = g.patchSize, groupOut = g.groupOutChannels
        // packed[group][block][ci][kh][kw][j] = weight[group·Cout_g + 4·block + j][ci][kh][kw]
        for group in 0..<g.groups {
            for block in 0..<outBlocks {
                let packed = forwardWeights + (group * outBlocks + block) * taps * 4
                for j in 0..<4 {
                    let local = 4 * block + j, co = group * groupOut + local
                    for t in 0..<taps { packed[t * 4 + j] = local < groupOut ? weight[co * taps + t] : 0 }
                }
            }
        }
        let parts = split(batch: batch)
        if let epilogue {
            epilogue.laneImages = imagesExpandedByEpilogue(batch: batch)
            epilogue.keptOutput = UnsafePointer(output)
        }
        let pass = ForwardPass(kernel: Unmanaged.passUnretained(self), split: parts, input: input, bias: bias, output: output)
        forEachPart(parts, context: pass) { raw, part, _, _ in
            let pass = raw.load(as: ForwardPass.self), kernel = pass.kernel.takeUnretainedValue()
            for block in pass.split.blocks(part: part) {
                kernel.forwardLanes(block: block, slot: part, input: pass.input, bias: pass.bias, output: pass.output)
            }
            kernel.forward(images: pass.split.wideImages(part: part), slot: part, input: pass.input, bias: pass.bias,
                           output: pass.output)
        }
    }

    /// Forward of images 16·block ..< 16·block + 16 in lanes.
    private func forwardLanes(block: Int, slot: Int, input: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                              output: UnsafeMutablePointer<Float>) {
        guard let grid = laneInputGrid else { return }
        let g = geometry, lanes = LaneGrid.lanes, first = block * lanes, pixels = g.outPlane
        let x = laneInputs[slot], results = laneResults[slot]
        grid.place(input + first * g.inputImageSize, imageStride: g.inputImageSize, sourceChannels: g.inChannels,
                   height: g.inHeight, width: g.inWidth, offsetY: g.paddingTop, offsetX: g.paddingLeft,
                   scratch: laneScratch[slot], into: x)
        let valid = (rows: g.paddingTop ..< g.paddingTop + g.inHeight, columns: g.paddingLeft ..< g.paddingLeft + g.inWidth)
        LaneConvolution.convolve(grid: grid, kernelHeight: g.kernelHeight, kernelWidth: g.kernelWidth,
                                 outRows: g.outHeight, outWidth: g.outWidth, valid: valid, blocks: outBlocks, x: x,
                                 weights: forwardWeights, y: results, target: target)
        if let epilogue, epilogue.runsInLanes {
            epilogue.finishLanes(results, bias: bias, firstImage: first, output: output, slot: slot)
            return
        }
        for co in 0..<g.outChannels {
            let shift = bias?[co] ?? 0, source = results + co * pixels * lanes
            if let target = epilogue?.planeTarget(slot: slot) {
                // The epilogue pools from its own scratch plane, one image at a time.
                for lane in 0..<lanes {
                    LaneConvolution.extract(results, channel: co, lane: lane, pixels: pixels, shift: shift, into: target)
                    epilogue?.finish(plane: target, image: first + lane, channel: co)
                }
                continue
            }
            let planes = output + (first * g.outChannels + co) * pixels
            LaneTranspose.fromLanes(source, pixels: pixels, shift: shift, into: planes, planeStride: g.outChannels * pixels)
            for lane in 0..<lanes {
                epilogue?.finish(plane: planes + lane * g.outChannels * pixels, image: first + lane, channel: co)
            }
        }
    }

    /// One thread's share of `forward`, with the packed `forwardWeights`.
    private func forward(images: Range<Int>, slot: Int, input: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                         output: UnsafeMutablePointer<Float>) {
        let g = geometry, grid = forwardGrid, taps = g.patchSize
        let oh = g.outHeight, ow = g.outWidth, groupIn = g.groupInChannels, groupOut = g.groupOutChannels
        let buffer = buffers[slot], y = wide[slot]
        for n in images {
            DirectConvolution.place(input + n * g.inputImageSize, channels: g.inChannels, height: g.inHeight,
                                    width: g.inWidth, strideY: 1, strideX: 1, offsetY: g.paddingTop,
                                    offsetX: g.paddingLeft, into: buffer, count: bufferSize,
                                    channelStride: grid.plane, rows: grid.rows, width: grid.width)
            for group in 0..<g.groups { for block in 0..<outBlocks {
                WideConvolution.convolve(grid: grid, channels: groupIn, x: buffer + group * groupIn * grid.plane,
                                         weights: forwardWeights + (group * outBlocks + block) * taps * 4, y: y, target: target)
                for j in 0..<min(4, groupOut - 4 * block) {
                    let co = group * groupOut + 4 * block + j
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
            } }
        }
    }

    func backwardData(batch: Int, gradOutput: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                      gradInput: UnsafeMutablePointer<Float>) {
        let g = geometry, kh = g.kernelHeight, kw = g.kernelWidth, taps = kh * kw
        let groupIn = g.groupInChannels, groupOut = g.groupOutChannels
        let perBlock = groupOut * taps
        // packed[group][block][co][a][b][j] = weight[group·Cout_g + co][4·block + j][KH−1−a][KW−1−b]
        for group in 0..<g.groups {
            for block in 0..<inBlocks {
                let packed = backwardWeights + (group * inBlocks + block) * perBlock * 4
                for j in 0..<4 {
                    let ci = 4 * block + j
                    for co in 0..<groupOut {
                        let kernel = weight + ((group * groupOut + co) * groupIn + ci) * taps
                        for t in 0..<taps {
                            packed[(co * taps + t) * 4 + j] = ci < groupIn ? kernel[taps - 1 - t] : 0
                        }
                    }
                }
            }
        }
        let parts = split(batch: batch)
        let pass = BackwardDataPass(kernel: Unmanaged.passUnretained(self), split: parts, gradOutput: gradOutput,
                                    gradInput: gradInput)
        forEachPart(parts, context: pass) { raw, part, _, _ in
            let pass = raw.load(as: BackwardDataPass.self), kernel = pass.kernel.takeUnretainedValue()
            for block in pass.split.blocks(part: part) {
                kernel.backwardDataLanes(block: block, slot: part, gradOutput: pass.gradOutput, gradInput: pass.gradInput)
            }
            kernel.backwardData(images: pass.split.wideImages(part: part), slot: part, gradOutput: pass.gradOutput,
                                gradInput: pass.gradInput)
        }
    }

    /// Input gradient of images 16·block ..< 16·block + 16 in lanes: the output gradient padded by K − 1 − P
    /// convolved with the flipped, channel-swapped kernel (`backwardWeights`' packing).
    private func backwardDataLanes(block: Int, slot: Int, gradOutput: UnsafePointer<Float>,
                                   gradInput: UnsafeMutablePointer<Float>) {
        guard let grid = laneGradientGrid else { return }
        let g = geometry, lanes = LaneGrid.lanes, first = block * lanes, pixels = g.inHeight * g.inWidth
        let x = laneInputs[slot], results = laneResults[slot]
        let top = g.kernelHeight - 1 - g.paddingTop, left = g.kernelWidth - 1 - g.paddingLeft
        placeGradient(gradOutput, first: first, grid: grid, offsetY: top, offsetX: left, slot: slot, into: x)
        let valid = (rows: top ..< top + g.outHeight, columns: left ..< left + g.outWidth)
        LaneConvolution.convolve(grid: grid, kernelHeight: g.kernelHeight, kernelWidth: g.kernelWidth,
                                 outRows: g.inHeight, outWidth: g.inWidth, valid: valid, blocks: inBlocks, x: x,
                                 weights: backwardWeights, y: results, target: target)
        for ci in 0..<g.inChannels {
            LaneTranspose.fromLanes(results + ci * pixels * lanes, pixels: pixels, shift: 0,
                                    into: gradInput + (first * g.inChannels + ci) * pixels, planeStride: g.inChannels * pixels)
        }
    }

    /// The output gradient of the 16 images at `first` into `block` (a `grid` of output-gradient channels) at
    /// row `offsetY`, column `offsetX`: expanded from the pooled gradient by a fused epilogue that kept these
    /// images in lanes (its pool's backward skipped them), else transposed from `gradOutput`.
    private func placeGradient(_ gradOutput: UnsafePointer<Float>, first: Int, grid: LaneGrid, offsetY: Int, offsetX: Int,
                               slot: Int, into block: UnsafeMutablePointer<Float>) {
        let g = geometry
        if let epilogue, first + LaneGrid.lanes <= epilogue.laneImages {
            let covered = epilogue.coveredSize
            grid.zero(block, outsideRows: offsetY ..< offsetY + covered.rows, columns: offsetX ..< offsetX + covered.columns,
                      ofChannels: g.outChannels)
            epilogue.expandGradient(firstImage: first, slot: slot, into: block, gridWidth: grid.width,
                                    channelFloats: grid.plane, offsetY: offsetY, offsetX: offsetX)
            return
        }
        grid.place(gradOutput + first * g.outputImageSize, imageStride: g.outputImageSize, sourceChannels: g.outChannels,
                   height: g.outHeight, width: g.outWidth, offsetY: offsetY, offsetX: offsetX, scratch: laneScratch[slot],
                   into: block)
    }

    /// One thread's share of `backwardData`, with the packed `backwardWeights`.
    private func backwardData(images: Range<Int>, slot: Int, gradOutput: UnsafePointer<Float>,
                              gradInput: UnsafeMutablePointer<Float>) {
        let g = geometry, grid = backwardGrid, taps = g.kernelHeight * g.kernelWidth
        let groupIn = g.groupInChannels, groupOut = g.groupOutChannels
        let perBlock = groupOut * taps
        let buffer = buffers[slot], y = wide[slot]
        for n in images {
            // The transposed convolution: gradOutput dilated by the stride, offset by D·(K − 1) − P_begin.
            DirectConvolution.place(gradOutput + n * g.outputImageSize, channels: g.outChannels,
                                    height: g.outHeight, width: g.outWidth, strideY: g.strideHeight,
                                    strideX: g.strideWidth, offsetY: g.kernelExtentHeight - 1 - g.paddingTop,
                                    offsetX: g.kernelExtentWidth - 1 - g.paddingLeft, into: buffer, count: bufferSize,
                                    channelStride: grid.plane, rows: grid.rows, width: grid.width)
            for group in 0..<g.groups { for block in 0..<inBlocks {
                WideConvolution.convolve(grid: grid, channels: groupOut, x: buffer + group * groupOut * grid.plane,
                                         weights: backwardWeights + (group * inBlocks + block) * perBlock * 4, y: y, target: target)
                for j in 0..<min(4, groupIn - 4 * block) {
                    let ci = group * groupIn + 4 * block + j
                    let target = gradInput + (n * g.inChannels + ci) * g.inHeight * g.inWidth
                    let source = y + j * grid.paddedOutput
                    for r in 0..<g.inHeight {
                        (target + r * g.inWidth).update(from: source + r * grid.width, count: g.inWidth)
                    }
                }
            } }
        }
    }

    func backwardWeights(batch: Int, input: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>,
                         gradWeight: UnsafeMutablePointer<Float>, gradBias: UnsafeMutablePointer<Float>?) {
        let g = geometry, weightCount = g.weightCount
        let parts = split(batch: batch)
        gradWeight.update(repeating: 0, count: weightCount)
        let pass = BackwardWeightsPass(kernel: Unmanaged.passUnretained(self), split: parts, input: input,
                                       gradOutput: gradOutput, gradWeight: gradWeight, gradBias: gradBias)
        forEachPart(parts, context: pass) { raw, part, _, _ in
            let pass = raw.load(as: BackwardWeightsPass.self)
            pass.kernel.takeUnretainedValue().backwardWeights(part: part, split: pass.split, input: pass.input,
                                                              gradOutput: pass.gradOutput, gradWeight: pass.gradWeight,
                                                              gradBias: pass.gradBias)
        }
        if batch <= 0 { gradBias?.update(repeating: 0, count: g.outChannels); return }
        ConvolutionReduction.addPartials(weights: partialWeights, bias: partialBias, slots: parts.parts, into: gradWeight,
                                         gradBias: gradBias, weightCount: weightCount, outChannels: g.outChannels)
    }

    /// One part's share of `backwardWeights`: its wide-grid images (which also set its bias-gradient slot),
    /// then its blocks in lanes, summed per lane and reduced into the part's partial once at the end.
    private func backwardWeights(part: Int, split: LaneSplit, input: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>,
                                 gradWeight: UnsafeMutablePointer<Float>, gradBias: UnsafeMutablePointer<Float>?) {
        backwardWeights(images: split.wideImages(part: part), slot: part, input: input, gradOutput: gradOutput,
                        gradWeight: gradWeight, gradBias: gradBias)
        let blocks = split.blocks(part: part)
        guard let grid = laneInputGrid, let outputGrid = laneOutputGrid, let laneOffsets, !blocks.isEmpty else { return }
        let g = geometry, lanes = LaneGrid.lanes, weightCount = g.weightCount
        let x = laneInputs[part], gradients = laneGradients[part], sums = lanePartials[part]
        let partial = part == 0 ? gradWeight : partialWeights[part]
        let biasTarget = gradBias.map { part == 0 ? $0 : partialBias + part * g.outChannels }
        sums.update(repeating: 0, count: weightCount * lanes)
        for block in blocks {
            let first = block * lanes
            grid.place(input + first * g.inputImageSize, imageStride: g.inputImageSize,
                       sourceChannels: g.inChannels, height: g.inHeight, width: g.inWidth, offsetY: g.paddingTop,
                       offsetX: g.paddingLeft, scratch: laneScratch[part], into: x)
            placeGradient(gradOutput, first: first, grid: outputGrid, offsetY: 0, offsetX: 0, slot: part, into: gradients)
            LaneConvolution.correlate(grid: grid, outRows: g.outHeight, outWidth: g.outWidth, outChannels: g.outChannels,
                                      x: x, g: gradients, offsets: laneOffsets, patchSize: g.patchSize, partial: sums,
                                      target: target)
            if let biasTarget {
                LaneConvolution.sumChannels(gradients, channels: g.outChannels, pixels: g.outPlane, into: biasTarget)
            }
        }
        LaneConvolution.reduce(sums, count: weightCount, into: partial)
    }

    /// One thread's share of `backwardWeights`: slot 0 accumulates into `gradWeight`/`gradBias`, other
    /// slots into their partials.
    private func backwardWeights(images: Range<Int>, slot: Int, input: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>,
                                 gradWeight: UnsafeMutablePointer<Float>, gradBias: UnsafeMutablePointer<Float>?) {
        let g = geometry, grid = forwardGrid, weightCount = g.weightCount
        let groupIn = g.groupInChannels, groupOut = g.groupOutChannels
        let buffer = buffers[slot], gradGrid = wide[slot]
        let partial = slot == 0 ? gradWeight : partialWeights[slot]
        if slot != 0 { partial.update(repeating: 0, count: weightCount) }
        if let stacked = stackedGrid, let patchOffsets {
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
                                              patchSize: g.patchSize, partial: partial, target: target)
                first += count
            }
        }
        for n in images where stackedGrid == nil {
            DirectConvolution.place(input + n * g.inputImageSize, channels: g.inChannels, height: g.inHeight,
                                    width: g.inWidth, strideY: 1, strideX: 1, offsetY: g.paddingTop,
                                    offsetX: g.paddingLeft, into: buffer, count: bufferSize,
                                    channelStride: grid.plane, rows: grid.rows, width: grid.width)
            DirectConvolution.place(gradOutput + n * g.outputImageSize, channels: g.outChannels,
                                    height: g.outHeight, width: g.outWidth, strideY: g.strideHeight,
                                    strideX: g.strideWidth, offsetY: 0, offsetX: 0, into: gradGrid,
                                    count: gradientRows * grid.paddedOutput, channelStride: grid.paddedOutput,
                                    rows: grid.outRows, width: grid.width)
            for group in 0..<g.groups {
                WideConvolution.correlate(grid: grid, channels: groupIn, outChannels: groupOut,
                                          x: buffer + group * groupIn * grid.plane,
                                          g: gradGrid + group * groupOut * grid.paddedOutput,
                                          partial: partial + group * groupOut * g.patchSize, target: target)
            }
        }
        if let gradBias {
            // Sets the slot's bias gradient (zero for an empty range); the part's lane blocks add to it.
            PatchLowering.biasGradient(g, batch: images.count, gradOutput: gradOutput + images.lowerBound * g.outputImageSize,
                                       gradBias: slot == 0 ? gradBias : partialBias + slot * g.outChannels)
        }
    }

    /// What a forward task reads (C-convention tasks cannot capture; the caller keeps `self` alive).
    private struct ForwardPass {
        let kernel: Unmanaged<DirectConvolution>
        let split: LaneSplit
        let input: UnsafePointer<Float>, bias: UnsafePointer<Float>?
        let output: UnsafeMutablePointer<Float>
    }

    /// What a backwardData task reads.
    private struct BackwardDataPass {
        let kernel: Unmanaged<DirectConvolution>
        let split: LaneSplit
        let gradOutput: UnsafePointer<Float>
        let gradInput: UnsafeMutablePointer<Float>
    }

    /// What a backwardWeights task reads.
    private struct BackwardWeightsPass {
        let kernel: Unmanaged<DirectConvolution>
        let split: LaneSplit
        let input: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>
        let gradWeight: UnsafeMutablePointer<Float>, gradBias: UnsafeMutablePointer<Float>?
    }
}

/// The direct backend runs a ReLU → pooling epilogue on its output planes while they are in L1.
extension DirectConvolution: EpilogueConvolution {}
