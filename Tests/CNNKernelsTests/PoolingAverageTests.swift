import Testing
import CNNKernels
import PyTorchFixtures

@Suite struct PoolingAverageTests {
    static func run(_ g: PoolingGeometry, batch: Int, countIncludePad: Bool, input: [Float], gradOutput: [Float], threads: Int = 2)
        -> (output: [Float], gradInput: [Float]) {
        let pool = ThreadPool(threadCount: threads)
        let x = OpsBuffer(input), y = OpsBuffer(repeating: Float.nan, count: batch * g.channels * g.outHeight * g.outWidth)
        let dy = OpsBuffer(gradOutput), dx = OpsBuffer(repeating: Float.nan, count: input.count)
        AveragePooling.forward(g, batch: batch, countIncludePad: countIncludePad, input: x.readOnly, output: y.pointer, pool: pool)
        AveragePooling.backward(g, batch: batch, countIncludePad: countIncludePad, gradOutput: dy.readOnly, gradInput: dx.pointer, pool: pool)
        return (y.array, dx.array)
    }

    @Test(arguments: ["avgpool_k2_s2", "avgpool_k2_tutorial", "avgpool_k3_s2_p1_count_include_pad"])
    func matchesPyTorch(name: String) throws {
        let fixture = try PyTorchFixture.load(name)
        let (g, batch) = try PoolingMaxTests.geometry(fixture)
        let result = Self.run(g, batch: batch, countIncludePad: true, input: try fixture.tensor("input").data,
                              gradOutput: try fixture.tensor("grad_output").data)
        #expect(maxRelativeError(result.output, try fixture.tensor("output").data, floor: 1e-3) <= 1e-4)
        #expect(maxRelativeError(result.gradInput, try fixture.tensor("grad_input").data, floor: 1e-3) <= 1e-4)
    }

    /// Ceil mode and count_include_pad=False, alone and together; the config says which.
    @Test(arguments: ["avgpool_k3_s2_ceil_count_pad", "avgpool_k3_s2_ceil_exclude_pad", "avgpool_k3_s2_p1_exclude_pad"])
    func optionsMatchPyTorch(name: String) throws {
        let fixture = try PyTorchFixture.load(name)
        let (g, batch) = try PoolingMaxTests.geometry(fixture)
        #expect(g.ceilMode == (PoolingMaxTests.flag(fixture, "ceil_mode") ?? false))
        #expect([batch, g.channels, g.outHeight, g.outWidth] == (try fixture.tensor("output").shape))
        let countIncludePad = try #require(PoolingMaxTests.flag(fixture, "count_include_pad"))
        let result = Self.run(g, batch: batch, countIncludePad: countIncludePad, input: try fixture.tensor("input").data,
                              gradOutput: try fixture.tensor("grad_output").data)
        #expect(maxRelativeError(result.output, try fixture.tensor("output").data, floor: 1e-3) <= 1e-4)
        #expect(maxRelativeError(result.gradInput, try fixture.tensor("grad_input").data, floor: 1e-3) <= 1e-4)
    }

    /// In ceil mode the last window hangs past the padded input; count_include_pad counts the
    /// padding it covers but not that overhang: 8 wide, k3 s2 p1 → the last window covers column 7
    /// and one padding column, so its divisor is 2, not 3.
    @Test func ceilModeDivisorStopsAtThePaddedEdge() {
        let g = PoolingGeometry(channels: 1, inHeight: 1, inWidth: 8, kernelHeight: 1, kernelWidth: 3,
                                strideHeight: 1, strideWidth: 2, paddingHeight: 0, paddingWidth: 1, ceilMode: true)
        #expect(g.outWidth == 5)
        let ones = [Float](repeating: 1, count: 8)
        let included = Self.run(g, batch: 1, countIncludePad: true, input: ones, gradOutput: [1, 1, 1, 1, 1]).output
        // Windows start at −1, 1, 3, 5, 7: the first sees pad + 2 real (2/3), the last sees 1 real + 1 pad (1/2).
        #expect(included == [2.0 / 3, 1, 1, 1, 0.5])
        let excluded = Self.run(g, batch: 1, countIncludePad: false, input: ones, gradOutput: [1, 1, 1, 1, 1]).output
        #expect(excluded == [1, 1, 1, 1, 1])
    }

    @Test(arguments: [true, false])
    func ceilModeGradientMatchesFiniteDifferences(countIncludePad: Bool) {
        let g = PoolingGeometry(channels: 2, inHeight: 6, inWidth: 7, kernelHeight: 3, kernelWidth: 3,
                                strideHeight: 2, strideWidth: 2, paddingHeight: 1, paddingWidth: 1, ceilMode: true)
        let input = OpsTestSupport.randomValues(2 * g.channels * g.inHeight * g.inWidth, seed: 16)
        let gradOutput = OpsTestSupport.randomValues(2 * g.channels * g.outHeight * g.outWidth, seed: 17)
        let analytic = Self.run(g, batch: 2, countIncludePad: countIncludePad, input: input, gradOutput: gradOutput).gradInput
        let numeric = OpsTestSupport.numericalGradient(input) { probe in
            OpsTestSupport.dot(gradOutput, Self.run(g, batch: 2, countIncludePad: countIncludePad, input: probe,
                                                    gradOutput: gradOutput, threads: 1).output)
        }
        #expect(maxRelativeError(analytic, numeric, floor: 1e-2) <= 1e-2)
    }

    /// Without count_include_pad, a corner window of a 3×3/p1 pool over all-ones input averages only
    /// real elements, so every output is exactly 1; with it, the corner divides 4 ones by 9.
    @Test func excludingPaddingDividesByRealElements() {
        let g = PoolingGeometry(channels: 1, inHeight: 4, inWidth: 4, kernelHeight: 3, kernelWidth: 3,
                                strideHeight: 2, strideWidth: 2, paddingHeight: 1, paddingWidth: 1)
        let ones = [Float](repeating: 1, count: 16)
        let excluded = Self.run(g, batch: 1, countIncludePad: false, input: ones, gradOutput: [1, 1, 1, 1]).output
        #expect(excluded == [1, 1, 1, 1])
        let included = Self.run(g, batch: 1, countIncludePad: true, input: ones, gradOutput: [1, 1, 1, 1]).output
        #expect(abs(included[0] - 4.0 / 9) < 1e-6)
        #expect(abs(included[3] - 1) < 1e-6)
    }

    @Test(arguments: [true, false])
    func gradientMatchesFiniteDifferences(countIncludePad: Bool) {
        for g in [PoolingGeometry(channels: 2, inHeight: 5, inWidth: 7, kernelHeight: 3, kernelWidth: 3,
                                  strideHeight: 2, strideWidth: 2, paddingHeight: 1, paddingWidth: 1),
                  PoolingGeometry(channels: 2, inHeight: 5, inWidth: 35, kernelHeight: 2, kernelWidth: 2,
                                  strideHeight: 2, strideWidth: 2, paddingHeight: 0, paddingWidth: 0)] {
            let input = OpsTestSupport.randomValues(2 * g.channels * g.inHeight * g.inWidth, seed: 6)
            let gradOutput = OpsTestSupport.randomValues(2 * g.channels * g.outHeight * g.outWidth, seed: 7)
            let analytic = Self.run(g, batch: 2, countIncludePad: countIncludePad, input: input, gradOutput: gradOutput).gradInput
            let numeric = OpsTestSupport.numericalGradient(input) { probe in
                OpsTestSupport.dot(gradOutput, Self.run(g, batch: 2, countIncludePad: countIncludePad, input: probe,
                                                        gradOutput: gradOutput, threads: 1).output)
            }
            #expect(maxRelativeError(analytic, numeric, floor: 1e-2) <= 1e-2)
        }
    }

    /// The 2×2/s2 SIMD forward against a direct sum on widths around the 16-output block.
    @Test(arguments: [(4, 34), (3, 33), (6, 64)])
    func twoByTwoFastPathMatchesDirectSum(height: Int, width: Int) {
        let g = PoolingGeometry(channels: 1, inHeight: height, inWidth: width, kernelHeight: 2, kernelWidth: 2,
                                strideHeight: 2, strideWidth: 2, paddingHeight: 0, paddingWidth: 0)
        let input = OpsTestSupport.randomValues(height * width, seed: 8)
        let output = Self.run(g, batch: 1, countIncludePad: true, input: input,
                              gradOutput: [Float](repeating: 0, count: g.outHeight * g.outWidth)).output
        var expected: [Float] = []
        for oh in 0..<g.outHeight {
            for ow in 0..<g.outWidth {
                let top = 2 * oh * width + 2 * ow
                expected.append(((input[top] + input[top + 1]) + (input[top + width] + input[top + width + 1])) * 0.25)
            }
        }
        #expect(output == expected)
    }
}
