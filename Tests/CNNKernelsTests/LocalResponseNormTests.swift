import Foundation
import Testing
import CNNKernels
import PyTorchFixtures

/// No PyTorch fixture: checked against a Float64 transcription of `F.local_response_norm` (x² zero-padded
/// by size/2 channels in front and (size − 1)/2 behind, averaged over `size` channels with the padding
/// counted, then input / (k + alpha·avg)^beta), and its gradient by Float64 finite differences.
@Suite struct LocalResponseNormTests {
    static func reference(_ p: LocalResponseNormParameters, batch: Int, channels: Int, spatial: Int, input: [Double]) -> [Double] {
        var output = [Double](repeating: 0, count: input.count)
        for n in 0..<batch {
            for c in 0..<channels {
                for s in 0..<spatial {
                    var padded: Double = 0
                    for w in 0..<p.size {
                        let neighbour = c - p.size / 2 + w  // padded window [c − size/2, c + (size − 1)/2]
                        if neighbour >= 0 && neighbour < channels {
                            let value = input[(n * channels + neighbour) * spatial + s]
                            padded += value * value
                        }
                    }
                    let average = padded / Double(p.size)
                    let index = (n * channels + c) * spatial + s
                    output[index] = input[index] / Foundation.pow(Double(p.k) + Double(p.alpha) * average, Double(p.beta))
                }
            }
        }
        return output
    }

    static func run(_ p: LocalResponseNormParameters, batch: Int, channels: Int, spatial: Int, input: [Float], gradOutput: [Float],
                    threads: Int = 2) -> (output: [Float], gradInput: [Float]) {
        let pool = ThreadPool(threadCount: threads)
        let x = OpsBuffer(input), dy = OpsBuffer(gradOutput)
        let y = OpsBuffer(repeating: Float.nan, count: input.count), dx = OpsBuffer(repeating: Float.nan, count: input.count)
        LocalResponseNorm.forward(p, batch: batch, channels: channels, spatial: spatial, input: x.readOnly, output: y.pointer, pool: pool)
        LocalResponseNorm.backward(p, batch: batch, channels: channels, spatial: spatial, input: x.readOnly, gradOutput: dy.readOnly,
                                   gradInput: dx.pointer, pool: pool)
        return (y.array, dx.array)
    }

    /// Odd and even windows, a window wider than the channels, size 1, AlexNet's constants; strong alpha
    /// so the cross-channel term is large; spatial 21 = one vector block plus a 5-lane tail.
    @Test(arguments: [LocalResponseNormParameters(size: 5, alpha: 0.5, beta: 0.75, k: 1),
                      LocalResponseNormParameters(size: 4, alpha: 0.8, beta: 0.6, k: 2),
                      LocalResponseNormParameters(size: 9, alpha: 1.0, beta: 1.2, k: 0.5),
                      LocalResponseNormParameters(size: 1, alpha: 0.3, beta: 0.75, k: 1),
                      LocalResponseNormParameters(size: 5, alpha: 1e-4, beta: 0.75, k: 2)])
    func matchesFloat64Reference(parameters: LocalResponseNormParameters) {
        let batch = 2, channels = 6, spatial = 21, count = batch * channels * spatial
        let input = OpsTestSupport.randomValues(count, seed: 61, scale: 2)
        let gradOutput = OpsTestSupport.randomValues(count, seed: 62)
        let result = Self.run(parameters, batch: batch, channels: channels, spatial: spatial, input: input, gradOutput: gradOutput)
        let x = input.map(Double.init)
        let expected = Self.reference(parameters, batch: batch, channels: channels, spatial: spatial, input: x)
        #expect(maxRelativeError(result.output, expected.map(Float.init), floor: 1e-4) <= 1e-5)

        // d/dx of Σ gradOutput·reference by central differences in Float64.
        let step = 1e-5
        var probe = x
        let numeric: [Float] = (0..<count).map { index in
            probe[index] = x[index] + step
            let plus = zip(gradOutput, Self.reference(parameters, batch: batch, channels: channels, spatial: spatial, input: probe))
                .reduce(0) { $0 + Double($1.0) * $1.1 }
            probe[index] = x[index] - step
            let minus = zip(gradOutput, Self.reference(parameters, batch: batch, channels: channels, spatial: spatial, input: probe))
                .reduce(0) { $0 + Double($1.0) * $1.1 }
            probe[index] = x[index]
            return Float((plus - minus) / (2 * step))
        }
        #expect(maxRelativeError(result.gradInput, numeric, floor: 1e-3) <= 1e-4)
    }

    @Test func threadedMatchesSingleThread() {
        let p = LocalResponseNormParameters(size: 5)
        let batch = 4, channels = 16, spatial = 13 * 13, count = batch * channels * spatial
        let input = OpsTestSupport.randomValues(count, seed: 63), gradOutput = OpsTestSupport.randomValues(count, seed: 64)
        let threaded = Self.run(p, batch: batch, channels: channels, spatial: spatial, input: input, gradOutput: gradOutput, threads: 2)
        let single = Self.run(p, batch: batch, channels: channels, spatial: spatial, input: input, gradOutput: gradOutput, threads: 1)
        #expect(threaded.output == single.output)
        #expect(threaded.gradInput == single.gradInput)
    }
}
