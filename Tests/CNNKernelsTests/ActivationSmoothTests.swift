import Foundation
import Testing
@testable import CNNKernels
import PyTorchFixtures

/// GELU (both forms), SiLU, ELU, ReLU6, hardswish, hardsigmoid, mish and softplus against PyTorch,
/// including its gradients at the kinks (the fixtures' first five inputs are 0, −3, 3, 6, −6).
@Suite struct ActivationSmoothTests {
    static let newKinds: [ActivationKind] = [.gelu, .geluTanh, .silu, .elu(alpha: 1), .elu(alpha: 0.7), .relu6, .hardswish,
                                             .hardsigmoid, .mish, .softplus(beta: 1, threshold: 20),
                                             .softplus(beta: 2, threshold: 5)]

    @Test(arguments: [("gelu", ActivationKind.gelu), ("gelu_tanh", .geluTanh), ("silu", .silu), ("elu", .elu(alpha: 1)),
                      ("relu6", .relu6), ("hardswish", .hardswish), ("hardsigmoid", .hardsigmoid), ("mish", .mish),
                      ("softplus", .softplus(beta: 1, threshold: 20))])
    func matchesPyTorch(name: String, kind: ActivationKind) throws {
        let fixture = try PyTorchFixture.load(name)
        let input = try fixture.tensor("input").data
        #expect(Array(input.prefix(5)) == [0, -3, 3, 6, -6])
        let result = ActivationTests.run(kind, input: input, gradOutput: try fixture.tensor("grad_output").data)
        let outputError = maxRelativeError(result.output, try fixture.tensor("output").data, floor: 1e-4)
        #expect(outputError <= 1e-4, "\(name) output error \(outputError)")
        let gradError = maxRelativeError(result.gradInput, try fixture.tensor("grad_input").data, floor: 1e-4)
        #expect(gradError <= 1e-4, "\(name) grad error \(gradError)")
        // The kinks themselves, tighter: PyTorch's one-sided conventions are exact values.
        let kinkError = maxRelativeError(Array(result.gradInput.prefix(5)), Array(try fixture.tensor("grad_input").data.prefix(5)),
                                         floor: 1e-6)
        #expect(kinkError <= 1e-5, "\(name) kink gradients \(result.gradInput.prefix(5))")
    }

    /// The configurations the fixtures don't cover: ELU's alpha, softplus' beta and threshold.
    @Test func parametersFollowPyTorchDefinitions() {
        let input: [Float] = [-2, -0.5, -1e-5, 0, 1e-5, 0.5, 2, 2.6, 3]
        let elu = ActivationTests.run(.elu(alpha: 0.7), input: input, gradOutput: input.map { _ in 1 })
        let expectedElu = input.map { $0 > 0 ? Double($0) : 0.7 * Foundation.expm1(Double($0)) }
        #expect(maxRelativeError(elu.output, expectedElu.map(Float.init), floor: 1e-30) <= 1e-6)
        #expect(elu.gradInput[3] == 0.7, "alpha at the kink, as PyTorch's x ≤ 0 branch")
        let softplus = ActivationTests.run(.softplus(beta: 2, threshold: 5), input: input, gradOutput: input.map { _ in 1 })
        let expectedSoftplus = input.map { 2 * $0 > 5 ? Double($0) : Foundation.log1p(Foundation.exp(2 * Double($0))) / 2 }
        #expect(maxRelativeError(softplus.output, expectedSoftplus.map(Float.init), floor: 1e-30) <= 1e-6)
        #expect(softplus.gradInput.suffix(2) == [1, 1], "linear past the threshold")
        #expect(abs(softplus.gradInput[3] - 0.5) < 1e-7)
    }

    @Test(arguments: newKinds)
    func gradientMatchesFiniteDifferences(kind: ActivationKind) {
        // Keep inputs 0.05 away from every kink (0, ±3, 6, and 2.5 where softplus(beta 2, threshold 5)
        // switches to x with PyTorch's small jump), where finite differences straddle two pieces.
        let kinks: [Float] = [0, -3, 3, 6, 2.5]
        let input = OpsTestSupport.randomValues(61, seed: 21, scale: 7).map { value in
            kinks.contains { abs(value - $0) < 0.05 } ? value + 0.1 : value
        }
        let gradOutput = OpsTestSupport.randomValues(61, seed: 22)
        let analytic = ActivationTests.run(kind, input: input, gradOutput: gradOutput).gradInput
        let numeric = OpsTestSupport.numericalGradient(input, step: 1e-2) { probe in
            OpsTestSupport.dot(gradOutput, ActivationTests.run(kind, input: probe, gradOutput: gradOutput, threads: 1).output)
        }
        #expect(maxRelativeError(analytic, numeric, floor: 1e-2) <= 2e-3, "\(kind)")
    }

    /// Threaded runs equal single-threaded ones, and the padded tail equals the vector lanes.
    @Test(arguments: newKinds)
    func threadedSIMDMatchesTail(kind: ActivationKind) {
        let count = 40_007
        let input = OpsTestSupport.randomValues(count, seed: 23, scale: 8)
        let gradOutput = OpsTestSupport.randomValues(count, seed: 24)
        let threaded = ActivationTests.run(kind, input: input, gradOutput: gradOutput, threads: 2)
        let single = ActivationTests.run(kind, input: input, gradOutput: gradOutput, threads: 1)
        #expect(threaded.output == single.output)
        #expect(threaded.gradInput == single.gradInput)
        let start = 20_001
        let tail = ActivationTests.run(kind, input: Array(input[start..<(start + 13)]),
                                       gradOutput: Array(gradOutput[start..<(start + 13)]), threads: 1)
        #expect(tail.output == Array(single.output[start..<(start + 13)]))
        #expect(tail.gradInput == Array(single.gradInput[start..<(start + 13)]))
    }

    /// Large magnitudes: no NaN or overflow, the right asymptotes.
    @Test(arguments: newKinds)
    func saturatesCleanly(kind: ActivationKind) {
        let input: [Float] = [-1e4, -200, -90, -30, 30, 90, 200, 1e4]
        let result = ActivationTests.run(kind, input: input, gradOutput: input.map { _ in 1 })
        #expect(result.output.allSatisfy { $0.isFinite }, "\(kind) \(result.output)")
        #expect(result.gradInput.allSatisfy { $0.isFinite }, "\(kind) \(result.gradInput)")
    }
}

/// The vector transcendental helpers against Foundation in Double.
@Suite struct VectorMathTests {
    static func apply(_ input: [Float], _ function: (SIMD16<Float>) -> SIMD16<Float>) -> [Float] {
        var result: [Float] = []
        var start = 0
        while start < input.count {
            var lanes = SIMD16<Float>()
            let count = min(16, input.count - start)
            for lane in 0..<count { lanes[lane] = input[start + lane] }
            let output = function(lanes)
            for lane in 0..<count { result.append(output[lane]) }
            start += 16
        }
        return result
    }

    @Test func normalCDFHasRelativeAccuracyInBothTails() {
        let input = (0..<2_001).map { Float($0 - 1_000) * 0.013 }  // −13 … 13
        let actual = Self.apply(input) { VectorMath.normalCDFAndDensity($0).cdf }
        let expected = input.map { Float(0.5 * Foundation.erfc(-Double($0) / 2.0.squareRoot())) }
        // Floor at the smallest normal float: below it (x < −12.9) float32 itself has fewer digits.
        #expect(maxRelativeError(actual, expected, floor: 1.2e-38) <= 1e-6)
        let density = Self.apply(input) { VectorMath.normalCDFAndDensity($0).density }
        let expectedDensity = input.map { Float(Foundation.exp(-Double($0) * Double($0) / 2) / (2 * Double.pi).squareRoot()) }
        #expect(maxRelativeError(density, expectedDensity, floor: 1.2e-38) <= 1e-6)
    }

    @Test func logAndLog1pAreAccurate() {
        var generator = SeededGenerator(seed: 5)
        let input = (0..<3_000).map { _ in Float(Foundation.exp(Double.random(in: -60...60, using: &generator))) } + [1, 2, 0.5]
        #expect(maxRelativeError(Self.apply(input, VectorMath.log), input.map { Float(Foundation.log(Double($0))) }, floor: 1e-30) <= 1e-6)
        let tiny = input + [1e-9, 1e-20, 3e-8, 0]
        #expect(maxRelativeError(Self.apply(tiny, VectorMath.log1p), tiny.map { Float(Foundation.log1p(Double($0))) }, floor: 1e-38)
            <= 1e-6)
    }

    @Test func expm1IsAccurateNearZero() {
        let input = (0..<4_001).map { Float($0 - 2_000) * 0.001 } + [1e-7, -1e-7, 1e-20, -30, 5]
        #expect(maxRelativeError(Self.apply(input, VectorMath.expm1), input.map { Float(Foundation.expm1(Double($0))) }, floor: 1e-38)
            <= 1e-6)
    }
}
