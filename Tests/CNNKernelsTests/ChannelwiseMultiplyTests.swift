import Testing
import CNNKernels
import PyTorchFixtures

@Suite struct ChannelwiseMultiplyTests {
    static func run(batch: Int, channels: Int, spatial: Int, input: [Float], gate: [Float], gradOutput: [Float], threads: Int = 2)
        -> (output: [Float], gradInput: [Float], gradGate: [Float]) {
        let pool = ThreadPool(threadCount: threads)
        let x = OpsBuffer(input), g = OpsBuffer(gate), dy = OpsBuffer(gradOutput)
        let y = OpsBuffer(repeating: Float.nan, count: input.count), dx = OpsBuffer(repeating: Float.nan, count: input.count)
        let dg = OpsBuffer(repeating: Float.nan, count: gate.count)
        ChannelwiseMultiply.forward(batch: batch, channels: channels, spatial: spatial, input: x.readOnly, gate: g.readOnly,
                                    output: y.pointer, pool: pool)
        ChannelwiseMultiply.backward(batch: batch, channels: channels, spatial: spatial, input: x.readOnly, gate: g.readOnly,
                                     gradOutput: dy.readOnly, gradInput: dx.pointer, gradGate: dg.pointer, pool: pool)
        return (y.array, dx.array, dg.array)
    }

    @Test func forwardScalesEachPlane() {
        let result = Self.run(batch: 2, channels: 2, spatial: 3, input: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12],
                              gate: [2, -1, 0.5, 0], gradOutput: [Float](repeating: 1, count: 12))
        #expect(result.output == [2, 4, 6, -4, -5, -6, 3.5, 4, 4.5, 0, 0, 0])
        #expect(result.gradGate == [6, 15, 24, 33])
        #expect(result.gradInput == [2, 2, 2, -1, -1, -1, 0.5, 0.5, 0.5, 0, 0, 0])
    }

    @Test(arguments: [1, 37])
    func gradientsMatchFiniteDifferences(spatial: Int) {
        let batch = 2, channels = 3, count = batch * channels * spatial
        let input = OpsTestSupport.randomValues(count, seed: 71), gate = OpsTestSupport.randomValues(batch * channels, seed: 72)
        let gradOutput = OpsTestSupport.randomValues(count, seed: 73)
        let analytic = Self.run(batch: batch, channels: channels, spatial: spatial, input: input, gate: gate, gradOutput: gradOutput)
        func loss(_ x: [Float], _ g: [Float]) -> Double {
            OpsTestSupport.dot(gradOutput, Self.run(batch: batch, channels: channels, spatial: spatial, input: x, gate: g,
                                                    gradOutput: gradOutput, threads: 1).output)
        }
        let numericInput = OpsTestSupport.numericalGradient(input, step: 1e-2) { loss($0, gate) }
        let numericGate = OpsTestSupport.numericalGradient(gate, step: 1e-2) { loss(input, $0) }
        #expect(maxRelativeError(analytic.gradInput, numericInput, floor: 1e-2) <= 1e-3)
        #expect(maxRelativeError(analytic.gradGate, numericGate, floor: 1e-2) <= 1e-3)
    }

    /// Only the gradient that is asked for is written.
    @Test func nilGradientsAreSkipped() {
        let pool = ThreadPool(threadCount: 1)
        let x = OpsBuffer([Float](repeating: 1, count: 4)), g = OpsBuffer([Float(3)]), dy = OpsBuffer([Float](repeating: 2, count: 4))
        let dg = OpsBuffer(repeating: Float.nan, count: 1)
        ChannelwiseMultiply.backward(batch: 1, channels: 1, spatial: 4, input: x.readOnly, gate: g.readOnly, gradOutput: dy.readOnly,
                                     gradInput: nil, gradGate: dg.pointer, pool: pool)
        #expect(dg.array == [8])
        let dx = OpsBuffer(repeating: Float.nan, count: 4)
        ChannelwiseMultiply.backward(batch: 1, channels: 1, spatial: 4, input: x.readOnly, gate: g.readOnly, gradOutput: dy.readOnly,
                                     gradInput: dx.pointer, gradGate: nil, pool: pool)
        #expect(dx.array == [6, 6, 6, 6])
    }
}
