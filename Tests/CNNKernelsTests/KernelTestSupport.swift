import CNNKernels
import PyTorchFixtures

/// Deterministic pseudo-random numbers for kernel tests (SplitMix64).
struct TestRandom {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [-1, 1).
    mutating func uniform() -> Float { Float(Double(next() >> 11) / Double(1 << 53) * 2 - 1) }
    mutating func array(_ count: Int) -> [Float] { (0..<count).map { _ in uniform() } }
    mutating func int(_ range: ClosedRange<Int>) -> Int {
        range.lowerBound + Int(next() % UInt64(range.count))
    }
}

/// A convolution's four results against a `conv2d_*` or `convopt_*` fixture: the relative error of each, with
/// the tensor's `scaledFloor` (at least the 1e-2 these fixtures always had) as the floor.
func convolutionFixtureErrors(_ fixture: PyTorchFixture, output: [Float], gradInput: [Float], gradWeight: [Float],
                              gradBias: [Float]) throws -> [(tensor: String, error: Float)] {
    try [("output", output), ("grad_input", gradInput), ("grad_weight", gradWeight), ("grad_bias", gradBias)].map { key, actual in
        let expected = try fixture.tensor(key).data
        return (key, maxRelativeError(actual, expected, floor: scaledFloor(expected, minimum: 1e-2)))
    }
}
