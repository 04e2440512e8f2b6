/// Seeded, fast, reproducible random number generator: xoshiro256** with its state seeded by
/// splitmix64, so every seed (including 0) gives a well-mixed, non-zero state. A value type:
/// copying it forks an identical stream.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var s0: UInt64
    private var s1: UInt64
    private var s2: UInt64
    private var s3: UInt64

    /// Creates the generator whose stream is fully determined by `seed`.
    public init(seed: UInt64) {
        var mixer = seed
        func splitMix() -> UInt64 {
            mixer &+= 0x9E37_79B9_7F4A_7C15
            var z = mixer
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s0 = splitMix()
        s1 = splitMix()
        s2 = splitMix()
        s3 = splitMix()
    }

    /// The four state words, so a stream can be saved and continued exactly (a resumed run).
    public var state: [UInt64] { [s0, s1, s2, s3] }

    /// Continues the stream whose `state` was saved; nil unless it is four words, not all zero
    /// (xoshiro's one invalid state).
    public init?(state: [UInt64]) {
        guard state.count == 4, state.contains(where: { $0 != 0 }) else { return nil }
        (s0, s1, s2, s3) = (state[0], state[1], state[2], state[3])
    }

    /// The next 64 random bits.
    @inline(__always) public mutating func next() -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let shifted = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= shifted
        s3 = s3 << 45 | s3 >> 19
        return result
    }

    /// Two independent uniform floats in [0, 1) with 24 bits each, from one 64-bit draw.
    @inline(__always) mutating func nextUnitFloatPair() -> (Float, Float) {
        let bits = next()
        let scale: Float = 1.0 / 16_777_216
        return (Float(UInt32(truncatingIfNeeded: bits >> 40)) * scale,
                Float(UInt32(truncatingIfNeeded: (bits >> 8) & 0xFF_FFFF)) * scale)
    }
}
