import Testing
import CNNKernels

@Suite struct ElementwiseTests {
    @Test(arguments: [0, 1, 15, 16, 17, 100])
    func addAccumulateAndFillCoverEveryElement(count: Int) {
        let a = OpsTestSupport.randomValues(count, seed: 61), b = OpsTestSupport.randomValues(count, seed: 62)
        let left = OpsBuffer(a), right = OpsBuffer(b), out = OpsBuffer(repeating: Float.nan, count: count)
        Elementwise.add(count: count, left.readOnly, right.readOnly, into: out.pointer)
        #expect(out.array == zip(a, b).map { $0 + $1 })
        Elementwise.accumulate(count: count, right.readOnly, into: left.pointer)
        #expect(left.array == zip(a, b).map { $0 + $1 })
        Elementwise.fill(count: count, value: 3.5, out.pointer)
        #expect(out.array == [Float](repeating: 3.5, count: count))
    }
}
