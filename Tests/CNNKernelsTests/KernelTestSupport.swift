import CNNKernels

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

/// The error floor for comparing against a reference: 1 % of its largest magnitude (at least 1e-3), so
/// values that cancel to near zero are judged against the tensor's scale.
func scaledFloor(_ values: [Float]) -> Float { max(1e-3, 1e-2 * (values.map { abs($0) }.max() ?? 0)) }
