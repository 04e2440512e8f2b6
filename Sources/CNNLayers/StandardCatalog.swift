import CNNSpec

extension LayerCatalog {
    /// Every layer kind cnnspec has, in the order of the layer reference (`cnnspec layers`).
    public static let standard = LayerCatalog([
        .conv2d,
        .maxpool, .avgpool, .globalAvgpool, .adaptiveAvgpool, .adaptiveMaxpool,
        .relu, .leakyRelu, .prelu, .sigmoid, .tanh, .gelu, .silu, .elu, .relu6, .hardswish, .hardsigmoid, .mish, .softplus,
        .flatten, .identity, .linear,
        .dropout, .dropout2d,
        .batchnorm2d, .batchnorm1d, .localResponseNorm,
        .channelShuffle,
        .add, .concat, .mul,
    ])
}
