import Foundation
import Testing
import CNNKernels
import PyTorchFixtures

@Suite struct ActivationTests {
    static func run(_ kind: ActivationKind, input: [Float], gradOutput: [Float], threads: Int = 2) -> (output: [Float], gradInput: [Float]) {
        let pool = ThreadPool(threadCount: threads)
        let x = OpsBuffer(input), y = OpsBuffer(repeating: Float.nan, count: input.count)
        let dy = OpsBuffer(gradOutput), dx = OpsBuffer(repeating: Float.nan, count: input.count)
        Activation.forward(kind, count: input.count, input: x.readOnly, output: y.pointer, pool: pool)
        Activation.backward(kind, count: input.count, input: x.readOnly, output: y.readOnly, gradOutput: dy.readOnly,
                            gradInput: dx.pointer, pool: pool)
        return (y.array, dx.array)
    }

    @Test(arguments: [("relu", ActivationKind.relu), ("leaky_relu_0.01", .leakyRelu(negativeSlope: 0.01)),
                      ("sigmoid", .sigmoid), ("tanh", .tanh)])
    func matchesPyTorch(name: String, kind: ActivationKind) throws {
        let fixture = try PyTorchFixture.load(name)
        let result = Self.run(kind, input: try fixture.tensor("input").data, gradOutput: try fixture.tensor("grad_output").data)
        #expect(maxRelativeError(result.output, try fixture.tensor("output").data, floor: 1e-4) <= 1e-5)
        let gradError = maxRelativeError(result.gradInput, try fixture.tensor("grad_input").data, floor: 1e-4)
        // 1 − y² in float32 cancels near saturation (PyTorch's float32 kernel does the same): 1e-4 as the fixtures' README.
        #expect(gradError <= 1e-4, "\(name) grad error \(gradError)")
    }

    /// The vectorised exp-based sigmoid/tanh against Foundation in Double over a wide range,
    /// including tiny magnitudes (tanh's cancellation zone) and saturation.
    @Test func sigmoidAndTanhAreAccurateOverTheRange() {
        var input = OpsTestSupport.randomValues(4_001, seed: 11, scale: 20)
        input += [0, -0, 1e-7, -1e-7, 1e-3, -0.6249, 0.6251, 30, -30, 90, -90, 200, -200]
        let sigmoid = Self.run(.sigmoid, input: input, gradOutput: input).output
        let tanh = Self.run(.tanh, input: input, gradOutput: input).output
        let expectedSigmoid = input.map { Float(1 / (1 + Foundation.exp(-Double($0)))) }
        let expectedTanh = input.map { Float(Foundation.tanh(Double($0))) }
        #expect(maxRelativeError(sigmoid, expectedSigmoid, floor: 1e-30) <= 1e-5)
        #expect(maxRelativeError(tanh, expectedTanh, floor: 1e-30) <= 1e-5)
    }

    @Test(arguments: [ActivationKind.relu, .leakyRelu(negativeSlope: 0.2), .sigmoid, .tanh])
    func gradientMatchesFiniteDifferences(kind: ActivationKind) {
        // Keep inputs away from ReLU's kink at 0, where finite differences are undefined.
        let input = OpsTestSupport.randomValues(37, seed: 12, scale: 3).map { abs($0) < 0.05 ? $0 + 0.1 : $0 }
        let gradOutput = OpsTestSupport.randomValues(37, seed: 13)
        let analytic = Self.run(kind, input: input, gradOutput: gradOutput).gradInput
        let numeric = OpsTestSupport.numericalGradient(input, step: 1e-2) { probe in
            OpsTestSupport.dot(gradOutput, Self.run(kind, input: probe, gradOutput: gradOutput, threads: 1).output)
        }
        #expect(maxRelativeError(analytic, numeric, floor: 1e-2) <= 2e-3)
    }

    /// Large, threaded, non-multiple-of-16 buffers give exactly the single-threaded results,
    /// and SIMD lanes agree with the scalar tail element for element.
    @Test(arguments: [ActivationKind.relu, .leakyRelu(negativeSlope: 0.1), .sigmoid, .tanh])
    func threadedSIMDMatchesScalarTail(kind: ActivationKind) {
        let count = 100_003
        let input = OpsTestSupport.randomValues(count, seed: 14, scale: 5)
        let gradOutput = OpsTestSupport.randomValues(count, seed: 15)
        let threaded = Self.run(kind, input: input, gradOutput: gradOutput, threads: 2)
        let single = Self.run(kind, input: input, gradOutput: gradOutput, threads: 1)
        #expect(threaded.output == single.output)
        #expect(threaded.gradInput == single.gradInput)
        for start in [0, 1_000, 50_001] {
            let slice = Array(input[start..<(start + 15)])
            let tail = Self.run(kind, input: slice, gradOutput: Array(gradOutput[start..<(start + 15)]), threads: 1)
            #expect(tail.output == Array(single.output[start..<(start + 15)]))
            #expect(tail.gradInput == Array(single.gradInput[start..<(start + 15)]))
        }
    }
}
