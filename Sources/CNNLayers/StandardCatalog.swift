import CNNSpec

extension LayerCatalog {
    /// Every layer kind cnnspec has, in the order of the layer reference (`cnnspec layers`).
    public static let standard = LayerCatalog([
        .conv2d,
        .maxpool, .avgpool, .globalAvgpool,
        .relu, .leakyRelu, .sigmoid, .tanh,
        .flatten, .identity, .linear,
        .dropout, .dropout2d,
        .batchnorm2d, .batchnorm1d,
        .add, .concat,
    ])
}
