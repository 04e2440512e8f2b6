/// A small, fast, seedable random generator (SplitMix64), identical on every platform. Used wherever
/// results must be reproducible from a seed: random sweeps (so a rerun draws the same points and can
/// resume), splits, shuffles and per-sample augmentation (seeded from seed, epoch and sample).
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    /// A generator for one (seed, epoch, sample) triple, independent of thread scheduling.
    public init(seed: UInt64, epoch: Int, sample: Int) {
        var mixer = SplitMix64(seed: seed)
        var epochMixer = SplitMix64(seed: mixer.next() ^ UInt64(truncatingIfNeeded: epoch) &* 0x9E37_79B9_7F4A_7C15)
        state = epochMixer.next() ^ UInt64(truncatingIfNeeded: sample) &* 0xC2B2_AE3D_27D4_EB4F
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1) with 53 random bits.
    public mutating func nextUnit() -> Double { Double(next() >> 11) * 0x1p-53 }

    /// Uniform in 0..<count (count > 0).
    public mutating func index(below count: Int) -> Int { Int(next() % UInt64(count)) }

    /// Fisher–Yates shuffle, identical on every platform for the same seed.
    public mutating func shuffle(_ values: inout [Int]) {
        guard values.count > 1 else { return }
        for index in stride(from: values.count - 1, to: 0, by: -1) {
            let other = Int(next() % UInt64(index + 1))
            values.swapAt(index, other)
        }
    }
}
