/// The weight gradient of a stride-1 convolution on `StackedGrid` blocks: for 4 output channels × 5 patch
/// entries (flattened (ci, kh, kw), so any kernel size fills the tile) 20 `SIMD16<Float>` accumulators run
/// over the whole block's pixels — 9 loads per 20 FMAs — and are reduced to scalars once per block.
enum StackedCorrelation {

    /// Zeroes `input` (`channels·grid.channelStride` floats) and writes `count` images of
    /// source[n][c][H][W] into it.
    static func placeInput(_ source: UnsafePointer<Float>, images count: Int, channels: Int, grid: StackedGrid,
                           into input: UnsafeMutablePointer<Float>) {
        input.update(repeating: 0, count: channels * grid.channelStride)
        let h = grid.height, w = grid.width, rowStride = grid.rowStride
        for i in 0..<count {
            for c in 0..<channels {
                let from = source + (i * channels + c) * h * w
                let to = input + c * grid.channelStride + i * grid.imagePlane + grid.paddingHeight * rowStride
                    + grid.paddingWidth
                for r in 0..<h { (to + r * rowStride).update(from: from + r * w, count: w) }
            }
        }
    }

    /// Zeroes `gradient` (`rows·grid.length(images: grid.images)` floats, `rows` ≥ channels, a multiple of 4)
    /// and writes `count` images of gradOutput[n][c][OH][OW] at their output positions.
    static func placeGradient(_ source: UnsafePointer<Float>, images count: Int, channels: Int, rows: Int,
                              grid: StackedGrid, into gradient: UnsafeMutablePointer<Float>) {
        let stride = grid.length(images: grid.images)
        gradient.update(repeating: 0, count: rows * stride)
        let oh = grid.outHeight, ow = grid.outWidth, rowStride = grid.rowStride
        for i in 0..<count {
            for c in 0..<channels {
                let from = source + (i * channels + c) * oh * ow
                let to = gradient + c * stride + i * grid.imagePlane
                for y in 0..<oh { (to + y * rowStride).update(from: from + y * ow, count: ow) }
            }
        }
    }

    /// partial[co·patchSize + p] += Σ_q gradient[co][q] · input[q + offsets[p]] over the first `count`
    /// images' positions, for co < outChannels and p < patchSize, in `target`'s `CorrelationTile`. `offsets`
    /// holds `CorrelationTile.paddedCount(patchSize)` entries (padding entries may be any valid offset; their
    /// sums are dropped).
    static func accumulate(grid: StackedGrid, images count: Int, input: UnsafePointer<Float>,
                           gradient: UnsafePointer<Float>, outChannels: Int, offsets: UnsafePointer<Int>,
                           patchSize: Int, partial: UnsafeMutablePointer<Float>, target: KernelTarget) {
        target.visit(Accumulate(grid: grid, count: count, input: input, gradient: gradient, outChannels: outChannels,
                                offsets: offsets, patchSize: patchSize, partial: partial))
    }

    /// `accumulate`'s arguments, run with the target's spec.
    private struct Accumulate: KernelTargetVisitor {
        let grid: StackedGrid, count: Int, input: UnsafePointer<Float>, gradient: UnsafePointer<Float>
        let outChannels: Int, offsets: UnsafePointer<Int>, patchSize: Int, partial: UnsafeMutablePointer<Float>

        func visit<Spec: KernelTargetSpec>(_ spec: Spec.Type) {
            let rows = Spec.correlationRows, inputs = Spec.correlationInputs
            let stride = grid.length(images: grid.images)
            let end = 4 * grid.length(images: count)
            let rowBytes = 4 * stride, vector = MemoryLayout<CorrelationTile.Lanes>.stride
            for first in Swift.stride(from: 0, to: outChannels, by: rows) {
                let g = UnsafeRawPointer(gradient + first * stride)
                var p0 = 0
                while p0 < patchSize {
                    let x = CorrelationTile.Inputs(UnsafeRawPointer(input), offsets + p0, count: inputs)
                    var tile = CorrelationTile()
                    var byte = 0
                    while byte < end {
                        tile.add(gradient: g, rowBytes: rowBytes, gradientByte: byte, x, inputByte: byte, rows: rows,
                                 inputs: inputs)
                        byte += vector
                    }
                    let taps = min(inputs, patchSize - p0)
                    let target = partial + first * patchSize + p0
                    for r in 0..<min(rows, outChannels - first) {
                        tile.forEach(row: r, inputs: taps) { t, sum in target[r * patchSize + t] += sum.sum() }
                    }
                    p0 += inputs
                }
            }
        }
    }
}
