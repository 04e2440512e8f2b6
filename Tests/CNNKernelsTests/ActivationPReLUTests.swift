import Testing
import CNNKernels
import PyTorchFixtures

@Suite struct ActivationPReLUTests {
    static func run(batch: Int, channels: Int, spatial: Int, input: [Float], slopes: [Float], gradOutput: [Float], threads: Int = 2)
        -> (output: [Float], gradInput: [Float], gradSlopes: [Float]) {
        let pool = ThreadPool(threadCount: threads)
        let x = OpsBuffer(input), a = OpsBuffer(slopes), dy = OpsBuffer(gradOutput)
        let y = OpsBuffer(repeating: Float.nan, count: input.count), dx = OpsBuffer(repeating: Float.nan, count: input.count)
        let da = OpsBuffer(repeating: Float.nan, count: slopes.count)
        PReLU.forward(batch: batch, channels: channels, spatial: spatial, slopeCount: slopes.count, input: x.readOnly,
                      slopes: a.readOnly, output: y.pointer, pool: pool)
        PReLU.backward(batch: batch, channels: channels, spatial: spatial, slopeCount: slopes.count, input: x.readOnly,
                       slopes: a.readOnly, gradOutput: dy.readOnly, gradInput: dx.pointer, gradSlopes: da.pointer, pool: pool)
        return (y.array, dx.array, da.array)
    }

    @Test func perChannelMatchesPyTorch() throws {
        let fixture = try PyTorchFixture.load("prelu_per_channel")
        let shape = try fixture.tensor("input").shape
        let result = Self.run(batch: shape[0], channels: shape[1], spatial: shape[2] * shape[3], input: try fixture.tensor("input").data,
                              slopes: try fixture.tensor("weight").data, gradOutput: try fixture.tensor("grad_output").data)
        #expect(maxRelativeError(result.output, try fixture.tensor("output").data) <= 1e-4)
        #expect(maxRelativeError(result.gradInput, try fixture.tensor("grad_input").data) <= 1e-4)
        #expect(maxRelativeError(result.gradSlopes, try fixture.tensor("grad_weight").data) <= 1e-4)
    }

    /// Per-channel and shared slopes, NCHW planes (odd, > 16 wide) and [N, C] (spatial 1).
    @Test(arguments: [(3, 19, [Float(0.25), -0.1, 0.6]), (3, 19, [Float(0.3)]), (5, 1, [Float(0.2), 0.1, 0.5, -0.3, 0.05])])
    func gradientsMatchFiniteDifferences(channels: Int, spatial: Int, slopes: [Float]) {
        let batch = 2, count = batch * channels * spatial
        let input = OpsTestSupport.randomValues(count, seed: 51).map { abs($0) < 0.02 ? $0 + 0.05 : $0 }
        let gradOutput = OpsTestSupport.randomValues(count, seed: 52)
        let analytic = Self.run(batch: batch, channels: channels, spatial: spatial, input: input, slopes: slopes, gradOutput: gradOutput)
        func loss(_ x: [Float], _ a: [Float]) -> Double {
            OpsTestSupport.dot(gradOutput, Self.run(batch: batch, channels: channels, spatial: spatial, input: x, slopes: a,
                                                    gradOutput: gradOutput, threads: 1).output)
        }
        let numericInput = OpsTestSupport.numericalGradient(input, step: 1e-2) { loss($0, slopes) }
        let numericSlopes = OpsTestSupport.numericalGradient(slopes, step: 1e-2) { loss(input, $0) }
        #expect(maxRelativeError(analytic.gradInput, numericInput, floor: 1e-2) <= 1e-3)
        #expect(maxRelativeError(analytic.gradSlopes, numericSlopes, floor: 1e-2) <= 1e-3)
    }

    /// Threaded (several parts for the shared slope) against one thread on a large tensor.
    @Test(arguments: [1, 32])
    func threadedMatchesSingleThread(slopeCount: Int) {
        let batch = 4, channels = 32, spatial = 23 * 23, count = batch * channels * spatial
        let input = OpsTestSupport.randomValues(count, seed: 53), gradOutput = OpsTestSupport.randomValues(count, seed: 54)
        let slopes = OpsTestSupport.randomValues(slopeCount, seed: 55)
        let threaded = Self.run(batch: batch, channels: channels, spatial: spatial, input: input, slopes: slopes,
                                gradOutput: gradOutput, threads: 2)
        let single = Self.run(batch: batch, channels: channels, spatial: spatial, input: input, slopes: slopes,
                              gradOutput: gradOutput, threads: 1)
        #expect(threaded.output == single.output)
        #expect(threaded.gradInput == single.gradInput)
        #expect(maxRelativeError(threaded.gradSlopes, single.gradSlopes, floor: 1e-3) <= 1e-6)
    }

    /// At exactly 0 PyTorch takes the x ≤ 0 branch: gradInput = a·dy, and 0·dy towards the slope.
    @Test func zeroInputUsesTheSlope() {
        let result = Self.run(batch: 1, channels: 1, spatial: 2, input: [0, -2], slopes: [0.25], gradOutput: [4, 1])
        #expect(result.output == [0, -0.5])
        #expect(result.gradInput == [1, 0.25])
        #expect(result.gradSlopes == [-2])
    }
}
