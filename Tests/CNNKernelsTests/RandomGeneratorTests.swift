import Testing
import CNNKernels

@Suite struct RandomGeneratorTests {
    /// xoshiro256** seeded by splitmix64 is deterministic, differs between seeds, and copies fork the stream.
    @Test func streamsAreReproducibleAndDistinct() {
        var a = SeededGenerator(seed: 42), b = SeededGenerator(seed: 42), c = SeededGenerator(seed: 43)
        let first = (0..<8).map { _ in a.next() }
        #expect(first == (0..<8).map { _ in b.next() })
        #expect(first != (0..<8).map { _ in c.next() })
        var fork = a
        #expect(a.next() == fork.next())
        var zero = SeededGenerator(seed: 0)
        #expect(zero.next() != 0 || zero.next() != 0)
    }

    /// Each output bit is set about half the time.
    @Test func bitsAreBalanced() {
        var generator = SeededGenerator(seed: 1)
        var ones = [Int](repeating: 0, count: 64)
        let draws = 20_000
        for _ in 0..<draws {
            let value = generator.next()
            for bit in 0..<64 where value >> UInt64(bit) & 1 == 1 { ones[bit] += 1 }
        }
        // 5 standard deviations of a fair coin over 20 000 draws is ≈ 354.
        #expect(ones.allSatisfy { abs($0 - draws / 2) < 354 })
    }
}
