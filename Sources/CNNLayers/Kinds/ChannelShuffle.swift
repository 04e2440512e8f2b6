import CNNKernels
import CNNSpec

/// `channel_shuffle`: ShuffleNet's `nn.ChannelShuffle(groups)`, which lets grouped convolutions see
/// each other's channels.
extension LayerDefinition {
    public static let channelShuffle = LayerDefinition(
        name: "channel_shuffle", synonyms: ["channelshuffle", "shuffle"],
        summary: "interleaves the channels of `groups` groups (torch.nn.ChannelShuffle, ShuffleNet)",
        keys: [LayerKey("groups", .integer(minimum: 1), required: true, summary: "groups the channels are split into")],
        shortFormKey: "groups", autoNameStem: "shuffle", example: "- channel_shuffle: 2", jsonFields: ["groups"],
        infer: { arguments, context in
            guard let (c, _, _) = context.featureMap(), let groups = arguments.integer("groups") else { return nil }
            guard c % groups == 0 else {
                context.error("groups \(groups) must divide the \(c) input channels", key: "groups",
                              hint: "use a divisor of \(c), e.g. the groups of the grouped convolution before it")
                return nil
            }
            return InferredLayer(ChannelShuffleOperation(groups: groups), shape: context.input.shape)
        })
}

public struct ChannelShuffleOperation: ExecutableOperation, Equatable {
    public var groups: Int

    public var kindName: String { "channel_shuffle" }
    public var summary: String { "g\(groups)" }
    public var jsonFields: [(key: String, value: JSONValue)] { [("groups", .integer(groups))] }

    /// The layer works on the plan's buffers and its parameters only.
    public func memory(_ sizing: LayerSizing) -> MemoryFootprint { .zero }

    public var outputReLUFusion: OutputReLUFusion { .none }

    public func makeLayer(_ context: LayerBuildContext) throws -> any ExecutableLayer {
        ChannelShuffleLayer(wiring: context.wiring, groups: groups, pool: context.pool)
    }
}

final class ChannelShuffleLayer: ExecutableLayer {
    private let wiring: LayerWiring
    private let groups: Int
    private let pool: ThreadPool

    init(wiring: LayerWiring, groups: Int, pool: ThreadPool) { self.wiring = wiring; self.groups = groups; self.pool = pool }

    func forward(batch: Int, training: Bool) {
        let (channels, height, width) = wiring.outputShape.chw
        ChannelShuffle.forward(batch: batch, channels: channels, spatial: height * width, groups: groups, input: wiring.input,
                               output: wiring.output, pool: pool)
    }

    func backward(batch: Int) {
        guard let gradInput = wiring.inputGradient else { return }
        let (channels, height, width) = wiring.outputShape.chw
        ChannelShuffle.backward(batch: batch, channels: channels, spatial: height * width, groups: groups,
                                gradOutput: wiring.outputGradient, gradInput: gradInput, pool: pool)
    }
}

// MARK: - Export

extension ChannelShuffleOperation {
    /// Reshape to [N, groups, C/groups, H, W], swap the two channel axes, reshape back (0 keeps the batch dynamic).
    public func exportONNX(_ node: ExportNode, to builder: any ONNXGraphBuilder) throws {
        let (c, h, w) = node.inputShape.chw
        let grouped = builder.apply("Reshape", [node.input, builder.int64Constant([0, groups, c / groups, h, w], stem: node.name + "_grouped_shape")],
                                    stem: node.name + "_grouped")
        let swapped = builder.apply("Transpose", [grouped], ["perm": .ints([0, 2, 1, 3, 4])], stem: node.name + "_swapped")
        builder.apply("Reshape", [swapped, builder.int64Constant([0, c, h, w], stem: node.name + "_shape")], stem: node.name,
                      into: node.output)
    }

    /// `nn.ChannelShuffle(groups)`.
    public func exportPyTorch(_ node: ExportNode) throws -> PyTorchLayer {
        .call("nn.ChannelShuffle(\(groups))", node)
    }
}
