import Testing
import CNNKernels

@Suite struct ChannelShuffleTests {
    /// PyTorch: x.view(N, g, C/g, H, W).transpose(1, 2).reshape(N, C, H, W).
    static func reference(_ input: [Float], batch: Int, channels: Int, spatial: Int, groups: Int) -> [Float] {
        var output = [Float](repeating: 0, count: input.count)
        let perGroup = channels / groups
        for n in 0..<batch {
            for i in 0..<groups {
                for j in 0..<perGroup {
                    for s in 0..<spatial {
                        output[(n * channels + j * groups + i) * spatial + s] = input[(n * channels + i * perGroup + j) * spatial + s]
                    }
                }
            }
        }
        return output
    }

    @Test func sixChannelsInTwoGroupsInterleave() {
        let pool = ThreadPool(threadCount: 2)
        let input = OpsBuffer((0..<6).map(Float.init)), output = OpsBuffer(repeating: Float.nan, count: 6)
        ChannelShuffle.forward(batch: 1, channels: 6, spatial: 1, groups: 2, input: input.readOnly, output: output.pointer, pool: pool)
        #expect(output.array == [0, 3, 1, 4, 2, 5])
    }

    @Test(arguments: [(2, 12, 5, 3), (3, 8, 17, 4), (1, 6, 1, 6), (2, 5, 4, 1)])
    func matchesTheReferenceAndBackwardInverts(batch: Int, channels: Int, spatial: Int, groups: Int) {
        let pool = ThreadPool(threadCount: 2)
        let values = OpsTestSupport.randomValues(batch * channels * spatial, seed: 81)
        let input = OpsBuffer(values), output = OpsBuffer(repeating: Float.nan, count: values.count)
        ChannelShuffle.forward(batch: batch, channels: channels, spatial: spatial, groups: groups, input: input.readOnly,
                               output: output.pointer, pool: pool)
        #expect(output.array == Self.reference(values, batch: batch, channels: channels, spatial: spatial, groups: groups))
        // The gradient of a permutation is the inverse permutation: shuffling back restores the input.
        let back = OpsBuffer(repeating: Float.nan, count: values.count)
        ChannelShuffle.backward(batch: batch, channels: channels, spatial: spatial, groups: groups, gradOutput: output.readOnly,
                                gradInput: back.pointer, pool: pool)
        #expect(back.array == values)
    }
}
