/// ShuffleNet's channel shuffle (PyTorch `nn.ChannelShuffle(groups)`): the channels viewed as
/// [groups, C/groups] are transposed to [C/groups, groups], so output channel j·groups + i is input
/// channel i·(C/groups) + j. The backward pass is the inverse permutation of the gradient.
public enum ChannelShuffle {
    /// output[n, j·g + i] = input[n, i·(C/g) + j]. `channels` must be a multiple of `groups`.
    public static func forward(batch: Int, channels: Int, spatial: Int, groups: Int, input: UnsafePointer<Float>,
                               output: UnsafeMutablePointer<Float>, pool: ThreadPool) {
        permute(Pass(channels: channels, spatial: spatial, groups: groups, source: input, destination: output, inverse: false),
                planes: batch * channels, pool: pool)
    }

    /// gradInput[n, i·(C/g) + j] = gradOutput[n, j·g + i].
    public static func backward(batch: Int, channels: Int, spatial: Int, groups: Int, gradOutput: UnsafePointer<Float>,
                                gradInput: UnsafeMutablePointer<Float>, pool: ThreadPool) {
        permute(Pass(channels: channels, spatial: spatial, groups: groups, source: gradOutput, destination: gradInput, inverse: true),
                planes: batch * channels, pool: pool)
    }

    private struct Pass {
        let channels: Int, spatial: Int, groups: Int
        let source: UnsafePointer<Float>
        let destination: UnsafeMutablePointer<Float>
        /// False: destination plane k reads the source plane the shuffle puts there; true: the reverse.
        let inverse: Bool

        /// The channel of the source that lands in (or, inverse, comes from) channel `k` of the destination.
        @inline(__always) func sourceChannel(_ k: Int) -> Int {
            let perGroup = channels / groups
            return inverse ? (k % perGroup) * groups + k / perGroup : (k % groups) * perGroup + k / groups
        }
    }

    /// Copies every destination plane from its source plane, planes spread over the pool.
    private static func permute(_ pass: Pass, planes: Int, pool: ThreadPool) {
        forEachPoolingPlane(planes, planeCost: pass.spatial, pool: pool, context: pass) { raw, first, end in
            let pass = raw.load(as: Pass.self)
            for plane in first..<end {
                let image = plane / pass.channels, channel = plane % pass.channels
                let from = (image * pass.channels + pass.sourceChannel(channel)) * pass.spatial
                (pass.destination + plane * pass.spatial).update(from: pass.source + from, count: pass.spatial)
            }
        }
    }
}
