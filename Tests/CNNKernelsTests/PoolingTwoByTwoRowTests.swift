import Testing
import CNNKernels

/// The 2×2 stride-2 fast paths walk each row in blocks of 16, 8 or 4 outputs, a last block overlapping
/// the one before it (`forEachTwoByTwoBlock`). These tests run every input width 2…41 (output rows of
/// 1…20 — narrow, exactly one 16-block, and 16 plus an overlapping block — with odd widths cutting off
/// a last column) over even
/// and odd heights, against a direct per-window computation in the scalar order, and require the same
/// bits. Every written buffer sits between guard bands that must stay untouched: the last row of the
/// last plane ends the buffer, so a block reaching past its row would show there.
@Suite struct PoolingTwoByTwoRowTests {
    static let widths = Array(2...41)
    static let heights = [2, 3, 4, 7]
    static let batch = 2, channels = 2
    static let guardBand = 64
    static let sentinel: Float = 12345

    static func geometry(height: Int, width: Int) -> PoolingGeometry {
        PoolingGeometry(channels: channels, inHeight: height, inWidth: width, kernelHeight: 2, kernelWidth: 2,
                        strideHeight: 2, strideWidth: 2, paddingHeight: 0, paddingWidth: 0)
    }

    /// A buffer of `count` floats between two guard bands of `sentinel`; `body` gets its start.
    static func guarded(_ count: Int, _ body: (UnsafeMutablePointer<Float>) -> Void) -> (values: [Float], guardsIntact: Bool) {
        let buffer = OpsBuffer(repeating: sentinel, count: count + 2 * guardBand)
        body(buffer.pointer + guardBand)
        let all = buffer.array
        let guards = all[..<guardBand] + all[(guardBand + count)...]
        return (Array(all[guardBand..<(guardBand + count)]), guards.allSatisfy { $0 == sentinel })
    }

    /// Inputs in [−1, 1) with exact zeros (the ReLU mask's edge) and repeated neighbours (max pooling ties).
    static func input(_ count: Int, seed: UInt64) -> [Float] {
        var values = OpsTestSupport.randomValues(count, seed: seed)
        for index in stride(from: 0, to: count, by: 5) { values[index] = 0 }
        for index in stride(from: 3, to: count - 1, by: 7) { values[index] = values[index + 1] }
        return values
    }

    /// Calls `body(g, input, gradOutput)` for every width and height.
    static func forEachShape(_ body: (PoolingGeometry, [Float], [Float]) -> Void) {
        for height in heights {
            for width in widths {
                let g = geometry(height: height, width: width)
                let x = input(batch * channels * height * width, seed: UInt64(height * 1_000 + width))
                let dy = OpsTestSupport.randomValues(batch * channels * g.outHeight * g.outWidth, seed: UInt64(width * 31 + height))
                body(g, x, dy)
            }
        }
    }

    /// Per plane and window, in the kernels' order: pooled ((tl + tr) + (bl + br)) · 0.25 of `value(x)`,
    /// and `share(x, gradient · 0.25)` at each of the window's inputs (0 where no window covers).
    static func reference(_ g: PoolingGeometry, _ x: [Float], _ dy: [Float], value: (Float) -> Float,
                          share: (Float, Float) -> Float) -> (output: [Float], gradInput: [Float]) {
        let h = g.inHeight, w = g.inWidth, oh = g.outHeight, ow = g.outWidth
        var output = [Float](repeating: 0, count: batch * channels * oh * ow)
        var gradInput = [Float](repeating: 0, count: x.count)
        for plane in 0..<(batch * channels) {
            for row in 0..<oh {
                for column in 0..<ow {
                    let topLeft = plane * h * w + 2 * row * w + 2 * column
                    let window = [topLeft, topLeft + 1, topLeft + w, topLeft + w + 1]
                    let out = plane * oh * ow + row * ow + column
                    output[out] = ((value(x[window[0]]) + value(x[window[1]])) + (value(x[window[2]]) + value(x[window[3]]))) * 0.25
                    for index in window { gradInput[index] = share(x[index], dy[out] * 0.25) }
                }
            }
        }
        return (output, gradInput)
    }

    @Test func averagePoolingMatchesDirectWindowsOnEveryWidth() {
        let pool = ThreadPool(threadCount: 2)
        Self.forEachShape { g, x, dy in
            let expected = Self.reference(g, x, dy, value: { $0 }, share: { _, share in share })
            let input = OpsBuffer(x), gradOutput = OpsBuffer(dy)
            let output = Self.guarded(dy.count) {
                AveragePooling.forward(g, batch: Self.batch, countIncludePad: true, input: input.readOnly, output: $0, pool: pool)
            }
            let gradInput = Self.guarded(x.count) {
                AveragePooling.backward(g, batch: Self.batch, countIncludePad: true, gradOutput: gradOutput.readOnly,
                                        gradInput: $0, pool: pool)
            }
            #expect(output.values == expected.output, "avgpool forward \(g.inHeight)×\(g.inWidth)")
            #expect(gradInput.values == expected.gradInput, "avgpool backward \(g.inHeight)×\(g.inWidth)")
            #expect(output.guardsIntact && gradInput.guardsIntact, "avgpool wrote outside its buffers at \(g.inHeight)×\(g.inWidth)")
        }
    }

    @Test func fusedReLUAveragePoolingMatchesDirectWindowsOnEveryWidth() {
        let pool = ThreadPool(threadCount: 2)
        Self.forEachShape { g, x, dy in
            let expected = Self.reference(g, x, dy, value: { max($0, 0) }, share: { x, share in x > 0 ? share : 0 })
            let input = OpsBuffer(x), gradOutput = OpsBuffer(dy)
            let output = Self.guarded(dy.count) {
                ReLUAveragePooling.forward(g, batch: Self.batch, countIncludePad: true, input: input.readOnly, output: $0, pool: pool)
            }
            let gradInput = Self.guarded(x.count) {
                ReLUAveragePooling.backward(g, batch: Self.batch, countIncludePad: true, input: input.readOnly,
                                            gradOutput: gradOutput.readOnly, gradInput: $0, pool: pool)
            }
            #expect(output.values == expected.output, "relu avgpool forward \(g.inHeight)×\(g.inWidth)")
            #expect(gradInput.values == expected.gradInput, "relu avgpool backward \(g.inHeight)×\(g.inWidth)")
            #expect(output.guardsIntact && gradInput.guardsIntact,
                    "relu avgpool wrote outside its buffers at \(g.inHeight)×\(g.inWidth)")
        }
    }

    /// Max pooling's backward routes each gradient to its window's first maximum (ties included).
    @Test func maxPoolingBackwardMatchesDirectWindowsOnEveryWidth() {
        let pool = ThreadPool(threadCount: 2)
        Self.forEachShape { g, x, dy in
            let h = g.inHeight, w = g.inWidth, oh = g.outHeight, ow = g.outWidth
            var expectedOutput = [Float](repeating: 0, count: dy.count), expectedGrad = [Float](repeating: 0, count: x.count)
            for plane in 0..<(Self.batch * Self.channels) {
                for row in 0..<oh {
                    for column in 0..<ow {
                        let topLeft = plane * h * w + 2 * row * w + 2 * column
                        var best = topLeft
                        for index in [topLeft + 1, topLeft + w, topLeft + w + 1] where x[index] > x[best] { best = index }
                        let out = plane * oh * ow + row * ow + column
                        expectedOutput[out] = x[best]
                        expectedGrad[best] = dy[out]
                    }
                }
            }
            let input = OpsBuffer(x), gradOutput = OpsBuffer(dy)
            let argmax = OpsBuffer(repeating: Int32(-1), count: dy.count)
            let output = Self.guarded(dy.count) {
                MaxPooling.forward(g, batch: Self.batch, input: input.readOnly, output: $0, argmax: argmax.pointer, pool: pool)
            }
            let gradInput = Self.guarded(x.count) {
                MaxPooling.backward(g, batch: Self.batch, gradOutput: gradOutput.readOnly, argmax: argmax.readOnly,
                                    gradInput: $0, pool: pool)
            }
            #expect(output.values == expectedOutput, "maxpool forward \(h)×\(w)")
            #expect(gradInput.values == expectedGrad, "maxpool backward \(h)×\(w)")
            #expect(output.guardsIntact && gradInput.guardsIntact, "maxpool wrote outside its buffers at \(h)×\(w)")
        }
    }
}
