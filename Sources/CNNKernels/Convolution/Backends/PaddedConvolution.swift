/// PyTorch's reflect / replicate / circular `padding_mode`, exactly as PyTorch computes it: the input is
/// padded with `F.pad(mode)` and the convolution runs with zero padding 0.
///
/// This stage builds the padded batch [N, Cin, H + P_top + P_bottom, W + P_left + P_right] in a workspace
/// preallocated for the batch capacity and hands it to any backend built for that padded, unpadded
/// geometry. backwardData lets the backend compute the gradient of the padded input in the same
/// workspace and folds it back: every padded pixel's gradient is added to the input pixel it was copied
/// from (edge pixels of replicate padding collect several). backwardWeights pads the input again (the
/// caller's input may have changed since forward). The index maps are computed once, per axis.
final class PaddedConvolution: ConvolutionKernel {
    let geometry: ConvolutionGeometry
    var kind: ConvolutionBackendKind { inner.kind }
    var algorithm: String { inner.algorithm + ", padding stage" }
    private let inner: any ConvolutionKernel
    private let pool: ThreadPool
    /// The padded batch (forward, backwardWeights) or its gradient (backwardData).
    private let padded: UnsafeMutablePointer<Float>
    /// Input row / column each padded row / column copies.
    private let rowSource: UnsafeMutablePointer<Int>
    private let columnSource: UnsafeMutablePointer<Int>

    init(geometry g: ConvolutionGeometry, inner: any ConvolutionKernel, pool: ThreadPool) {
        geometry = g
        self.inner = inner
        self.pool = pool
        padded = GEMM.allocateAligned(g.batch * g.inChannels * g.paddedHeight * g.paddedWidth)
        rowSource = .allocate(capacity: g.paddedHeight)
        columnSource = .allocate(capacity: g.paddedWidth)
        for row in 0..<g.paddedHeight {
            rowSource[row] = PaddedConvolution.source(row - g.paddingTop, size: g.inHeight, mode: g.paddingMode)
        }
        for column in 0..<g.paddedWidth {
            columnSource[column] = PaddedConvolution.source(column - g.paddingLeft, size: g.inWidth, mode: g.paddingMode)
        }
    }

    deinit {
        padded.deallocate()
        rowSource.deallocate()
        columnSource.deallocate()
    }

    /// The input index padded position `position` (−P_begin ..< size + P_end) copies, per PyTorch's modes.
    /// `problem` guarantees reflect padding < size and circular padding ≤ size, so one reflection or wrap
    /// lands inside.
    static func source(_ position: Int, size: Int, mode: ConvolutionPaddingMode) -> Int {
        switch mode {
        case .zeros, .replicate: return min(max(position, 0), size - 1)
        case .reflect: return position < 0 ? -position : (position >= size ? 2 * (size - 1) - position : position)
        case .circular: return (position % size + size) % size
        }
    }

    /// What this stage adds to its inner backend's memory: the padded batch and the two index maps.
    static func stageMemory(_ g: ConvolutionGeometry) -> MemoryFootprint {
        MemoryFootprint(workspaceBytes: 4 * Double(max(g.batch * g.inChannels * g.paddedHeight * g.paddedWidth, 16))
                            + 8 * Double(g.paddedHeight + g.paddedWidth))
    }

    func prepare(weight: UnsafePointer<Float>) { inner.prepare(weight: weight) }

    func forward(batch: Int, input: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                 output: UnsafeMutablePointer<Float>) {
        pad(batch: batch, input: input)
        inner.forward(batch: batch, input: padded, weight: weight, bias: bias, output: output)
    }

    func backwardData(batch: Int, gradOutput: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                      gradInput: UnsafeMutablePointer<Float>) {
        inner.backwardData(batch: batch, gradOutput: gradOutput, weight: weight, gradInput: padded)
        pool.parallelFor(batch * geometry.inChannels, context: stage(padded: padded, plain: gradInput)) { raw, start, end in
            raw.load(as: Stage.self).fold(planes: start..<end)
        }
    }

    func backwardWeights(batch: Int, input: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>,
                         gradWeight: UnsafeMutablePointer<Float>, gradBias: UnsafeMutablePointer<Float>?) {
        pad(batch: batch, input: input)
        inner.backwardWeights(batch: batch, input: padded, gradOutput: gradOutput, gradWeight: gradWeight,
                              gradBias: gradBias)
    }

    private func pad(batch: Int, input: UnsafePointer<Float>) {
        pool.parallelFor(batch * geometry.inChannels,
                         context: stage(padded: padded, plain: UnsafeMutablePointer(mutating: input))) { raw, start, end in
            raw.load(as: Stage.self).pad(planes: start..<end)
        }
    }

    private func stage(padded: UnsafeMutablePointer<Float>, plain: UnsafeMutablePointer<Float>) -> Stage {
        let g = geometry
        return Stage(height: g.inHeight, width: g.inWidth, paddedHeight: g.paddedHeight, paddedWidth: g.paddedWidth,
                     left: g.paddingLeft, rowSource: rowSource, columnSource: columnSource, padded: padded, plain: plain)
    }

    /// What a pool task of the padding stage reads (C-convention tasks cannot capture). `plain` is the
    /// unpadded tensor: the input when padding (only read), gradInput when folding.
    private struct Stage {
        let height: Int, width: Int, paddedHeight: Int, paddedWidth: Int, left: Int
        let rowSource: UnsafeMutablePointer<Int>, columnSource: UnsafeMutablePointer<Int>
        let padded: UnsafeMutablePointer<Float>, plain: UnsafeMutablePointer<Float>

        /// padded[plane][R][C] = plain[plane][rowSource[R]][columnSource[C]].
        func pad(planes: Range<Int>) {
            for plane in planes {
                let source = plain + plane * height * width, target = padded + plane * paddedHeight * paddedWidth
                for row in 0..<paddedHeight {
                    let from = source + rowSource[row] * width, to = target + row * paddedWidth
                    for column in 0..<left { to[column] = from[columnSource[column]] }
                    (to + left).update(from: from, count: width)
                    for column in (left + width)..<paddedWidth { to[column] = from[columnSource[column]] }
                }
            }
        }

        /// plain[plane] = Σ of padded[plane][R][C] over the padded pixels that copy each input pixel.
        func fold(planes: Range<Int>) {
            for plane in planes {
                let target = plain + plane * height * width, source = padded + plane * paddedHeight * paddedWidth
                target.update(repeating: 0, count: height * width)
                for row in 0..<paddedHeight {
                    let from = source + row * paddedWidth, to = target + rowSource[row] * width
                    for x in 0..<width { to[x] += from[left + x] }
                    for column in 0..<left { to[columnSource[column]] += from[column] }
                    for column in (left + width)..<paddedWidth { to[columnSource[column]] += from[column] }
                }
            }
        }
    }
}
