import Testing
import CNNKernels

@Suite struct DropoutTests {
    static func forward(p: Float, input: [Float], seed: UInt64) -> (output: [Float], mask: [Float]) {
        var generator = SeededGenerator(seed: seed)
        let x = OpsBuffer(input), y = OpsBuffer(repeating: Float.nan, count: input.count)
        let mask = OpsBuffer(repeating: Float.nan, count: input.count)
        Dropout.forward(count: input.count, p: p, input: x.readOnly, output: y.pointer, mask: mask.pointer, generator: &generator)
        return (y.array, mask.array)
    }

    @Test(arguments: [Float(0.1), 0.5, 0.8])
    func keepRateAndScalingMatchP(p: Float) {
        let count = 100_001
        let input = OpsTestSupport.randomValues(count, seed: 51)
        let result = Self.forward(p: p, input: input, seed: 52)
        let scale = 1 / (1 - p)
        #expect(result.mask.allSatisfy { $0 == 0 || $0 == scale })
        let kept = Double(result.mask.filter { $0 != 0 }.count) / Double(count)
        // 5 standard deviations of a binomial proportion.
        let tolerance = 5 * (Double(p) * Double(1 - p) / Double(count)).squareRoot()
        #expect(abs(kept - Double(1 - p)) < tolerance)
        #expect(zip(result.output, zip(input, result.mask)).allSatisfy { $0 == $1.0 * $1.1 })
    }

    @Test func sameSeedSameMaskDifferentSeedDifferentMask() {
        let input = [Float](repeating: 1, count: 1_000)
        #expect(Self.forward(p: 0.5, input: input, seed: 7).mask == Self.forward(p: 0.5, input: input, seed: 7).mask)
        #expect(Self.forward(p: 0.5, input: input, seed: 7).mask != Self.forward(p: 0.5, input: input, seed: 8).mask)
    }

    @Test func zeroProbabilityCopiesAndOneZeroes() {
        let input = OpsTestSupport.randomValues(33, seed: 53)
        #expect(Self.forward(p: 0, input: input, seed: 1).output == input)
        #expect(Self.forward(p: 1, input: input, seed: 1).output == [Float](repeating: 0, count: 33))
    }

    @Test func backwardAppliesTheMask() {
        let mask: [Float] = (0..<35).map { $0 % 3 == 0 ? 0 : 2 }
        let gradient = OpsTestSupport.randomValues(35, seed: 54)
        let g = OpsBuffer(gradient), m = OpsBuffer(mask), dx = OpsBuffer(repeating: Float.nan, count: 35)
        Dropout.backward(count: 35, gradOutput: g.readOnly, mask: m.readOnly, gradInput: dx.pointer)
        #expect(dx.array == zip(gradient, mask).map { $0 * $1 })
    }

    /// Dropout2d zeroes or scales whole (image, channel) planes, with one mask entry per plane.
    @Test func dropout2dActsOnWholePlanes() {
        let (batch, channels, spatial) = (4, 50, 19)
        let count = batch * channels * spatial
        let input = OpsTestSupport.randomValues(count, seed: 55).map { $0 + 2 }
        var generator = SeededGenerator(seed: 56)
        let x = OpsBuffer(input), y = OpsBuffer(repeating: Float.nan, count: count)
        let mask = OpsBuffer(repeating: Float.nan, count: batch * channels)
        Dropout.forward2d(batch: batch, channels: channels, spatial: spatial, p: 0.5, input: x.readOnly, output: y.pointer,
                          mask: mask.pointer, generator: &generator)
        let planeMask = mask.array
        #expect(planeMask.allSatisfy { $0 == 0 || $0 == 2 })
        #expect(planeMask.contains(0) && planeMask.contains(2))
        for plane in 0..<(batch * channels) {
            let range = (plane * spatial)..<((plane + 1) * spatial)
            #expect(Array(y.array[range]) == input[range].map { $0 * planeMask[plane] })
        }
        let dx = OpsBuffer(repeating: Float.nan, count: count)
        Dropout.backward2d(batch: batch, channels: channels, spatial: spatial, gradOutput: x.readOnly, mask: mask.readOnly,
                           gradInput: dx.pointer)
        #expect(dx.array == y.array)
    }
}
