import Testing
import CNNKernels
import PyTorchFixtures

@Suite struct PoolingAdaptiveTests {
    static func geometry(_ fixture: PyTorchFixture) throws -> (AdaptivePoolingGeometry, batch: Int) {
        let shape = try fixture.tensor("input").shape
        let size = fixture.pair("output_size")
        return (AdaptivePoolingGeometry(channels: shape[1], inHeight: shape[2], inWidth: shape[3],
                                        outHeight: size[0], outWidth: size[1]), shape[0])
    }

    static func average(_ g: AdaptivePoolingGeometry, batch: Int, input: [Float], gradOutput: [Float], threads: Int = 2)
        -> (output: [Float], gradInput: [Float]) {
        let pool = ThreadPool(threadCount: threads)
        let x = OpsBuffer(input), y = OpsBuffer(repeating: Float.nan, count: batch * g.channels * g.outHeight * g.outWidth)
        let dy = OpsBuffer(gradOutput), dx = OpsBuffer(repeating: Float.nan, count: input.count)
        AdaptiveAveragePooling.forward(g, batch: batch, input: x.readOnly, output: y.pointer, pool: pool)
        AdaptiveAveragePooling.backward(g, batch: batch, gradOutput: dy.readOnly, gradInput: dx.pointer, pool: pool)
        return (y.array, dx.array)
    }

    static func max(_ g: AdaptivePoolingGeometry, batch: Int, input: [Float], gradOutput: [Float], threads: Int = 2)
        -> (output: [Float], argmax: [Int32], gradInput: [Float]) {
        let pool = ThreadPool(threadCount: threads)
        let outCount = batch * g.channels * g.outHeight * g.outWidth
        let x = OpsBuffer(input), y = OpsBuffer(repeating: Float.nan, count: outCount)
        let argmax = OpsBuffer(repeating: Int32(-1), count: outCount)
        let dy = OpsBuffer(gradOutput), dx = OpsBuffer(repeating: Float.nan, count: input.count)
        AdaptiveMaxPooling.forward(g, batch: batch, input: x.readOnly, output: y.pointer, argmax: argmax.pointer, pool: pool)
        AdaptiveMaxPooling.backward(g, batch: batch, gradOutput: dy.readOnly, argmax: argmax.readOnly, gradInput: dx.pointer, pool: pool)
        return (y.array, argmax.array, dx.array)
    }

    @Test(arguments: ["adaptive_avgpool_10x9_to_4x2", "adaptive_avgpool_7_to_3", "adaptive_avgpool_to_1"])
    func averageMatchesPyTorch(name: String) throws {
        let fixture = try PyTorchFixture.load(name)
        let (g, batch) = try Self.geometry(fixture)
        let result = Self.average(g, batch: batch, input: try fixture.tensor("input").data,
                                  gradOutput: try fixture.tensor("grad_output").data)
        #expect(maxRelativeError(result.output, try fixture.tensor("output").data, floor: 1e-3) <= 1e-4)
        #expect(maxRelativeError(result.gradInput, try fixture.tensor("grad_input").data, floor: 1e-3) <= 1e-4)
    }

    @Test func maxMatchesPyTorch() throws {
        let fixture = try PyTorchFixture.load("adaptive_maxpool_7_to_3")
        let (g, batch) = try Self.geometry(fixture)
        let result = Self.max(g, batch: batch, input: try fixture.tensor("input").data, gradOutput: try fixture.tensor("grad_output").data)
        #expect(maxRelativeError(result.output, try fixture.tensor("output").data, floor: 1e-3) <= 1e-4)
        #expect(maxRelativeError(result.gradInput, try fixture.tensor("grad_input").data, floor: 1e-3) <= 1e-4)
    }

    /// 7 → 3 windows are rows 0–2, 2–4, 4–6: row 2 and 4 belong to two windows each.
    @Test func windowsFollowPyTorchsIndexRule() {
        let g = AdaptivePoolingGeometry(channels: 1, inHeight: 7, inWidth: 10, outHeight: 3, outWidth: 4)
        let input = (0..<70).map { Float($0) }
        let result = Self.average(g, batch: 1, input: input, gradOutput: [Float](repeating: 1, count: 12))
        // Columns for 10 → 4: 0–2, 2–4, 5–7, 7–9; rows 0–2 → row mean 1, so output[0][0] = 10·1 + 1.
        #expect(result.output[0] == 11)
        #expect(result.output[3] == 18)
        #expect(result.output[11] == 58)
        // Element (2, 2) is in windows (0,0), (0,1), (1,0), (1,1): four shares of 1/9.
        #expect(abs(result.gradInput[22] - 4.0 / 9) < 1e-6)
    }

    /// Ties go to the first maximum in row-major order, as PyTorch.
    @Test func maxTiesPickTheFirst() {
        let g = AdaptivePoolingGeometry(channels: 1, inHeight: 2, inWidth: 3, outHeight: 1, outWidth: 2)
        let result = Self.max(g, batch: 1, input: [5, 5, 5, 5, 5, 5], gradOutput: [1, 2])
        #expect(result.argmax == [0, 1])
        #expect(result.gradInput == [1, 2, 0, 0, 0, 0])
    }

    @Test func gradientsMatchFiniteDifferences() {
        for g in [AdaptivePoolingGeometry(channels: 2, inHeight: 7, inWidth: 5, outHeight: 3, outWidth: 2),
                  AdaptivePoolingGeometry(channels: 2, inHeight: 5, inWidth: 20, outHeight: 1, outWidth: 1),
                  AdaptivePoolingGeometry(channels: 2, inHeight: 3, inWidth: 4, outHeight: 5, outWidth: 6)] {
            let count = 2 * g.channels * g.inHeight * g.inWidth
            let input = OpsTestSupport.distinctValues(count, seed: 41)
            let gradOutput = OpsTestSupport.randomValues(2 * g.channels * g.outHeight * g.outWidth, seed: 42)
            let average = Self.average(g, batch: 2, input: input, gradOutput: gradOutput).gradInput
            let numericAverage = OpsTestSupport.numericalGradient(input, step: 1e-3) { probe in
                OpsTestSupport.dot(gradOutput, Self.average(g, batch: 2, input: probe, gradOutput: gradOutput, threads: 1).output)
            }
            #expect(maxRelativeError(average, numericAverage, floor: 1e-2) <= 1e-2)
            let max = Self.max(g, batch: 2, input: input, gradOutput: gradOutput).gradInput
            let numericMax = OpsTestSupport.numericalGradient(input, step: 1e-3) { probe in
                OpsTestSupport.dot(gradOutput, Self.max(g, batch: 2, input: probe, gradOutput: gradOutput, threads: 1).output)
            }
            #expect(maxRelativeError(max, numericMax, floor: 1e-2) <= 1e-2)
        }
    }
}
