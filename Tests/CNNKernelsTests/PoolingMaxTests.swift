import Foundation
import Testing
import CNNKernels
import PyTorchFixtures

@Suite struct PoolingMaxTests {
    static func geometry(_ fixture: PyTorchFixture) throws -> (PoolingGeometry, batch: Int) {
        let shape = try fixture.tensor("input").shape
        let kernel = fixture.pair("kernel"), stride = fixture.pair("stride"), padding = fixture.pair("padding")
        let g = PoolingGeometry(channels: shape[1], inHeight: shape[2], inWidth: shape[3],
                                kernelHeight: kernel[0], kernelWidth: kernel[1], strideHeight: stride[0], strideWidth: stride[1],
                                paddingHeight: padding.first ?? 0, paddingWidth: padding.last ?? 0,
                                ceilMode: flag(fixture, "ceil_mode") ?? false)
        return (g, shape[0])
    }

    /// A boolean config entry (JSON true/false), nil when absent.
    static func flag(_ fixture: PyTorchFixture, _ key: String) -> Bool? {
        if let value = fixture.config[key] as? Bool { return value }
        return (fixture.config[key] as? NSNumber)?.boolValue
    }

    static func run(_ g: PoolingGeometry, batch: Int, input: [Float], gradOutput: [Float], threads: Int = 2)
        -> (output: [Float], argmax: [Int32], gradInput: [Float]) {
        let pool = ThreadPool(threadCount: threads)
        let outCount = batch * g.channels * g.outHeight * g.outWidth
        let x = OpsBuffer(input), y = OpsBuffer(repeating: Float.nan, count: outCount)
        let argmax = OpsBuffer(repeating: Int32(-1), count: outCount)
        let dy = OpsBuffer(gradOutput), dx = OpsBuffer(repeating: Float.nan, count: input.count)
        MaxPooling.forward(g, batch: batch, input: x.readOnly, output: y.pointer, argmax: argmax.pointer, pool: pool)
        MaxPooling.backward(g, batch: batch, gradOutput: dy.readOnly, argmax: argmax.readOnly, gradInput: dx.pointer, pool: pool)
        return (y.array, argmax.array, dx.array)
    }

    @Test(arguments: ["maxpool_k2_s2", "maxpool_k2_s2_odd_floor", "maxpool_k2_ties", "maxpool_k3_s1_p1", "maxpool_k3_s2_overlapping",
                      "maxpool_k2_s2_ceil_odd", "maxpool_k3_s2_ceil"])
    func matchesPyTorch(name: String) throws {
        let fixture = try PyTorchFixture.load(name)
        let (g, batch) = try Self.geometry(fixture)
        #expect([batch, g.channels, g.outHeight, g.outWidth] == (try fixture.tensor("output").shape))
        let result = Self.run(g, batch: batch, input: try fixture.tensor("input").data, gradOutput: try fixture.tensor("grad_output").data)
        #expect(maxRelativeError(result.output, try fixture.tensor("output").data, floor: 1e-3) <= 1e-4)
        #expect(maxRelativeError(result.gradInput, try fixture.tensor("grad_input").data, floor: 1e-3) <= 1e-4)
    }

    /// The 2×2/s2 SIMD path against the generic window scan, on widths around the 16-output block
    /// and odd heights/widths (floor mode drops the last row/column).
    @Test(arguments: [(5, 5), (7, 33), (28, 28), (14, 14), (9, 40), (3, 65), (2, 2)])
    func twoByTwoFastPathMatchesGenericScan(height: Int, width: Int) {
        let fast = PoolingGeometry(channels: 3, inHeight: height, inWidth: width, kernelHeight: 2, kernelWidth: 2,
                                   strideHeight: 2, strideWidth: 2, paddingHeight: 0, paddingWidth: 0)
        let batch = 2
        var input = OpsTestSupport.randomValues(batch * 3 * height * width, seed: UInt64(height * 100 + width))
        for index in stride(from: 0, to: input.count, by: 7) { input[index] = input[index + 1 < input.count ? index + 1 : index] }
        let gradOutput = OpsTestSupport.randomValues(batch * 3 * fast.outHeight * fast.outWidth, seed: 9)
        let result = Self.run(fast, batch: batch, input: input, gradOutput: gradOutput)
        let reference = Self.referenceMaxPool(fast, batch: batch, input: input, gradOutput: gradOutput)
        #expect(result.output == reference.output)
        #expect(result.argmax == reference.argmax)
        #expect(result.gradInput == reference.gradInput)
    }

    @Test func gradientMatchesFiniteDifferences() {
        for g in [PoolingGeometry(channels: 2, inHeight: 6, inWidth: 7, kernelHeight: 2, kernelWidth: 2,
                                  strideHeight: 2, strideWidth: 2, paddingHeight: 0, paddingWidth: 0),
                  PoolingGeometry(channels: 2, inHeight: 6, inWidth: 7, kernelHeight: 3, kernelWidth: 2,
                                  strideHeight: 1, strideWidth: 2, paddingHeight: 1, paddingWidth: 1)] {
            let input = OpsTestSupport.distinctValues(2 * g.channels * g.inHeight * g.inWidth, seed: 4)
            let gradOutput = OpsTestSupport.randomValues(2 * g.channels * g.outHeight * g.outWidth, seed: 5)
            let analytic = Self.run(g, batch: 2, input: input, gradOutput: gradOutput).gradInput
            let numeric = OpsTestSupport.numericalGradient(input, step: 1e-3) { probe in
                OpsTestSupport.dot(gradOutput, Self.run(g, batch: 2, input: probe, gradOutput: gradOutput, threads: 1).output)
            }
            #expect(maxRelativeError(analytic, numeric, floor: 1e-2) <= 1e-2)
        }
    }

    /// PyTorch's ceil-mode rule: round up, then drop a last window that would start in the right padding.
    @Test func ceilModeOutputSizes() {
        func size(_ input: Int, _ kernel: Int, _ stride: Int, _ padding: Int, ceil: Bool) -> Int {
            PoolingGeometry(channels: 1, inHeight: input, inWidth: input, kernelHeight: kernel, kernelWidth: kernel,
                            strideHeight: stride, strideWidth: stride, paddingHeight: padding, paddingWidth: padding,
                            ceilMode: ceil).outWidth
        }
        #expect(size(7, 2, 2, 0, ceil: true) == 4)
        #expect(size(7, 2, 2, 0, ceil: false) == 3)
        #expect(size(8, 3, 2, 0, ceil: true) == 4)
        #expect(size(8, 3, 2, 1, ceil: true) == 5)
        // ⌈(5 + 2 − 2)/2⌉ + 1 = 4, but window 3 would start at 3·2 − 1 = 5 = W: dropped.
        #expect(size(5, 2, 2, 1, ceil: true) == 3)
        #expect(size(6, 2, 2, 0, ceil: true) == 3)
        // The ResNet stem pool: 112 → 56 in floor mode, 57 in ceil mode (last window starts at 111).
        #expect(size(112, 3, 2, 1, ceil: false) == 56)
        #expect(size(112, 3, 2, 1, ceil: true) == 57)
    }

    /// Ceil mode on the 2×2/s2 window: odd sides keep a partial last window (generic path), even
    /// sides are the floor geometry (fast path); both agree with an explicit window scan.
    @Test(arguments: [(5, 5), (7, 33), (6, 34), (3, 65)])
    func twoByTwoCeilModeMatchesWindowScan(height: Int, width: Int) {
        let g = PoolingGeometry(channels: 2, inHeight: height, inWidth: width, kernelHeight: 2, kernelWidth: 2,
                                strideHeight: 2, strideWidth: 2, paddingHeight: 0, paddingWidth: 0, ceilMode: true)
        #expect(g.outHeight == (height + 1) / 2 && g.outWidth == (width + 1) / 2)
        let input = OpsTestSupport.distinctValues(2 * height * width, seed: UInt64(height * 7 + width))
        let gradOutput = OpsTestSupport.randomValues(2 * g.outHeight * g.outWidth, seed: 3)
        let result = Self.run(g, batch: 1, input: input, gradOutput: gradOutput)
        var expected: [Float] = [], expectedGrad = [Float](repeating: 0, count: input.count)
        for plane in 0..<2 {
            for oh in 0..<g.outHeight {
                for ow in 0..<g.outWidth {
                    var best = -Float.infinity, bestIndex = 0
                    for row in (2 * oh)..<min(2 * oh + 2, height) {
                        for column in (2 * ow)..<min(2 * ow + 2, width) {
                            let index = plane * height * width + row * width + column
                            if input[index] > best { best = input[index]; bestIndex = index }
                        }
                    }
                    expectedGrad[bestIndex] += gradOutput[expected.count]
                    expected.append(best)
                }
            }
        }
        #expect(result.output == expected)
        #expect(result.gradInput == expectedGrad)
    }

    @Test func ceilModeGradientMatchesFiniteDifferences() {
        let g = PoolingGeometry(channels: 2, inHeight: 7, inWidth: 6, kernelHeight: 3, kernelWidth: 2,
                                strideHeight: 2, strideWidth: 2, paddingHeight: 1, paddingWidth: 0, ceilMode: true)
        let input = OpsTestSupport.distinctValues(2 * g.channels * g.inHeight * g.inWidth, seed: 14)
        let gradOutput = OpsTestSupport.randomValues(2 * g.channels * g.outHeight * g.outWidth, seed: 15)
        let analytic = Self.run(g, batch: 2, input: input, gradOutput: gradOutput).gradInput
        let numeric = OpsTestSupport.numericalGradient(input, step: 1e-3) { probe in
            OpsTestSupport.dot(gradOutput, Self.run(g, batch: 2, input: probe, gradOutput: gradOutput, threads: 1).output)
        }
        #expect(maxRelativeError(analytic, numeric, floor: 1e-2) <= 1e-2)
    }

    @Test func nanPropagatesLikePyTorch() {
        let g = PoolingGeometry(channels: 1, inHeight: 2, inWidth: 2, kernelHeight: 2, kernelWidth: 2,
                                strideHeight: 2, strideWidth: 2, paddingHeight: 0, paddingWidth: 0)
        let result = Self.run(g, batch: 1, input: [1, .nan, 5, 2], gradOutput: [1])
        #expect(result.output[0].isNaN)
        #expect(result.argmax == [1])
    }

    static func referenceMaxPool(_ g: PoolingGeometry, batch: Int, input: [Float], gradOutput: [Float])
        -> (output: [Float], argmax: [Int32], gradInput: [Float]) {
        var output: [Float] = [], argmax: [Int32] = []
        var gradInput = [Float](repeating: 0, count: input.count)
        let plane = g.inHeight * g.inWidth
        for p in 0..<(batch * g.channels) {
            for oh in 0..<g.outHeight {
                for ow in 0..<g.outWidth {
                    var best = -Float.infinity, bestIndex = 0
                    for kh in 0..<g.kernelHeight {
                        for kw in 0..<g.kernelWidth {
                            let index = (oh * 2 + kh) * g.inWidth + ow * 2 + kw
                            if input[p * plane + index] > best { best = input[p * plane + index]; bestIndex = index }
                        }
                    }
                    gradInput[p * plane + bestIndex] += gradOutput[output.count]
                    output.append(best)
                    argmax.append(Int32(bestIndex))
                }
            }
        }
        return (output, argmax, gradInput)
    }
}
