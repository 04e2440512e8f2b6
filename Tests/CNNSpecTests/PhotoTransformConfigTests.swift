import Foundation
import Testing
@testable import CNNSpec

/// The photo preprocessing vocabulary of `data.*_transforms` and the folder-dataset keys.
@Test func photoTransformsParseWithTorchvisionMeanings() throws {
    let config = try RunConfigLoader.parse("""
        model: m.yaml
        data:
          dataset: folder
          root: photos
          test_split: 0.25
          cache_size: 256
          train_transforms:
            - random_resized_crop: 224
            - horizontal_flip
            - vertical_flip: 0.1
            - color_jitter: {brightness: 0.4, contrast: [0.7, 1.2], saturation: 0.4, hue: 0.1}
            - scale
            - normalize: imagenet
          eval_transforms: [resize: 256, center_crop: 224, scale, normalize: imagenet]
        """, file: "/work/configs/photos.yaml")
    #expect(config.data.trainTransforms == [
        .randomResizedCrop(RandomResizedCropSpec(height: 224, width: 224, scale: 0.08...1, ratio: (3.0 / 4)...(4.0 / 3))),
        .horizontalFlip(probability: 0.5), .verticalFlip(probability: 0.1),
        .colorJitter(ColorJitterSpec(brightness: 0.6...1.4, contrast: 0.7...1.2, saturation: 0.6...1.4, hue: -0.1...0.1)),
        .scale, .normalize(.imagenet)])
    #expect(config.data.evalTransforms == [.resizeShorter(size: 256), .centerCrop(height: 224, width: 224), .scale,
                                           .normalize(.fixed(mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225]))])
    // data.root is resolved against the config file's folder, as model: is.
    #expect(config.data.root == "/work/configs/photos")
    #expect(config.data.testSplit == 0.25 && config.data.cacheSize == 256)
    // The resolved config reads back to the same transforms (the run folder's config.yaml).
    let again = try RunConfigLoader.parse(config.yamlText, file: "/elsewhere/config.yaml")
    #expect(again.data == config.data)
    #expect(config.yamlText.contains("- resize: 256") && config.yamlText.contains("center_crop: [224, 224]"))
}

@Test func resizeTakesTheShorterSideOrAnExactSize() throws {
    let config = try RunConfigLoader.parse("model: m.yaml\ndata: {train_transforms: [resize: 32, resize: [20, 30], resize: [24], "
                                           + "random_resized_crop: {size: [8, 10], scale: [0.5, 1], ratio: [1, 2]}, scale]}\n",
                                           file: "c.yaml")
    #expect(config.data.trainTransforms == [.resizeShorter(size: 32), .resize(height: 20, width: 30), .resizeShorter(size: 24),
                                            .randomResizedCrop(RandomResizedCropSpec(height: 8, width: 10, scale: 0.5...1, ratio: 1...2)),
                                            .scale])
}

@Test func photoTransformMistakesAreReportedAtTheirKey() {
    let cases: [(String, String)] = [
        ("[color_jitter: {hue: 0.7}]", "must be in [0.0, 0.5]"),
        ("[color_jitter: {brightness: [1.5, 0.5]}]", "min ≤ max"),
        ("[color_jitter: 0.4]", "needs a mapping"),
        ("[color_jitter: {sharpness: 2}]", "unknown key 'sharpness'"),
        ("[random_resized_crop: {size: 8, scale: [0.5, 0.2]}]", "min ≤ max"),
        ("[random_resized_crop: {size: 8, scale: [0, 1]}]", "must be in (0.0, 1.0]"),
        ("[random_resized_crop: {scale: [0.5, 1]}]", "needs a size"),
        ("[center_crop: [1, 2, 3]]", "one number or [height, width]"),
        ("[scale, center_crop: 8]", "must come before scale"),
        ("[scale, normalize: imagenett]", "'auto', 'imagenet'"),
    ]
    for (transforms, expected) in cases {
        let found = diagnostics("model: m.yaml\ndata: {dataset: cifar10, train_transforms: \(transforms)}\n")
        #expect(found.contains { ($0.message + ($0.hint ?? "")).contains(expected) }, "\(transforms): \(found.map(\.message))")
    }
    let grey = diagnostics("model: m.yaml\ndata: {dataset: mnist, train_transforms: [scale, normalize: imagenet]}\n")
    #expect(grey.contains { $0.message.contains("imagenet statistics are for RGB") })
    let testSplit = diagnostics("model: m.yaml\ndata: {dataset: mnist, test_split: 0.2}\n")
    #expect(testSplit.contains { $0.message.contains("'data.test_split' applies to folder datasets") })
    let cacheSize = diagnostics("model: m.yaml\ndata: {dataset: cifar10, cache_size: 64}\n")
    #expect(cacheSize.contains { $0.message.contains("'data.cache_size' applies to folder datasets") })
    #expect(diagnostics("model: m.yaml\ndata: {dataset: folder, root: x, test_split: 1}\n").contains { $0.message.contains("test_split") })
}

@Test func dataRootFollowsTheConfigFileAndOverridesToo() throws {
    let relative = try RunConfigLoader.parse("model: m.yaml\ndata: {dataset: folder, root: ../data/shop}\n", file: "/home/u/configs/run.yaml")
    #expect(relative.data.root == "/home/u/data/shop")
    let absolute = try RunConfigLoader.parse("model: m.yaml\ndata: {dataset: npy, root: /srv/arrays/}\n", file: "/home/u/configs/run.yaml")
    #expect(absolute.data.root == "/srv/arrays")
    let overridden = try RunConfigLoader.parse("model: m.yaml\ndata: {dataset: folder, root: a}\n", file: "/home/u/configs/run.yaml",
                                               overrides: ["data.root=b/c"])
    #expect(overridden.data.root == "/home/u/configs/b/c")
    #expect(try RunConfigLoader.parse("model: m.yaml\n", file: "/x/c.yaml").data.root == nil)
}
