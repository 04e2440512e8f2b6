import CNNSpec
import Foundation

/// What `cnnspec predict` needs besides the weights, stored in every checkpoint's metadata so a
/// checkpoint (or run folder) alone is enough — no dataset, no project directory:
///
/// - `cnnspec.classes`: the class names in label order (JSON array);
/// - `cnnspec.sample_shape`: the raw sample shape `C,H,W` the eval transforms start from (the largest
///   picture's for a folder dataset kept at its pictures' own sizes, see `PictureSizing`);
/// - `cnnspec.config`: the resolved run config (eval transforms with `normalize: auto` resolved);
/// - `cnnspec.model_yaml`: the model spec's text;
/// - `cnnspec.border_mean`: the mean brightness (0…255) of the training images' borders, which tells
///   `--invert auto` whether the model was trained on light-on-dark or dark-on-light pictures.
public struct PredictionInfo: Sendable {
    public var classNames: [String]
    /// Raw sample shape [C, H, W] (before the eval transforms).
    public var sampleShape: [Int]
    public var evalTransforms: [TransformSpec]
    public var modelYAML: String
    /// The values the run gave the model file's `args:` (from the stored config's `model.args`).
    public var modelArguments: [ModelArgument]
    public var borderMean: Double
    /// How pictures are sized before the eval transforms (from the stored config's data section).
    public var sizing: PictureSizing

    static let keys = (classes: "cnnspec.classes", shape: "cnnspec.sample_shape", config: "cnnspec.config",
                       model: "cnnspec.model_yaml", border: "cnnspec.border_mean")
    /// The run-folder file listing the class names, one per line.
    public static let classNamesFile = "classes.txt"
    /// Training samples looked at for `border_mean` (enough for a stable mean, cheap at start-up).
    static let borderSamples = 1000

    /// The information of a run about to train.
    public init(config: RunConfig, data: TrainingData) {
        classNames = data.classNames
        let file = data.trainFile
        sampleShape = [file.channels, file.height, file.width]
        var resolved = config
        resolved.data = data.resolving(config.data)
        evalTransforms = resolved.data.evalTransforms
        sizing = PictureSizing(data: config.data, height: file.height, width: file.width)
        modelYAML = (try? String(contentsOfFile: config.modelPath, encoding: .utf8)) ?? ""
        modelArguments = config.modelArguments
        var sum = 0.0, count = 0
        for sample in 0..<min(file.count, Self.borderSamples) {
            let (offset, size) = file.sample(sample)
            for channel in 0..<file.channels {
                let base = offset + channel * size.plane
                sum += file.withPixels { Self.borderMean(of: $0, start: base, height: size.height, width: size.width) }
                count += 1
            }
            file.release(sample)
        }
        borderMean = count > 0 ? sum / Double(count) : 0
        configText = resolved.yamlText
    }

    private var configText = ""

    /// The checkpoint metadata entries.
    public var metadata: [String: String] {
        let classes = "[" + classNames.map(JSONText.quoted).joined(separator: ",") + "]"
        return [Self.keys.classes: classes, Self.keys.shape: sampleShape.map(String.init).joined(separator: ","),
                Self.keys.config: configText, Self.keys.model: modelYAML, Self.keys.border: String(format: "%.1f", borderMean)]
    }

    /// Reads the entries back from checkpoint metadata; nil when the checkpoint predates them.
    /// `path` names the checkpoint in errors about damaged entries.
    public init?(metadata: [String: String], path: String) throws(CheckpointError) {
        guard let classes = metadata[Self.keys.classes], let shape = metadata[Self.keys.shape],
              let config = metadata[Self.keys.config], let model = metadata[Self.keys.model] else { return nil }
        func fail(_ key: String) -> CheckpointError { CheckpointError(path: path, problem: "metadata '\(key)' is damaged") }
        guard let names = (try? JSONSerialization.jsonObject(with: Data(classes.utf8))) as? [String] else { throw fail(Self.keys.classes) }
        let dimensions = shape.split(separator: ",").compactMap { Int($0) }
        guard dimensions.count == 3, dimensions.allSatisfy({ $0 > 0 }) else { throw fail(Self.keys.shape) }
        let parsed: RunConfig
        do { parsed = try RunConfigLoader.parse(config, file: path + " (stored config)") } catch {
            throw CheckpointError(path: path, problem: "the stored run config does not parse: \(error)")
        }
        classNames = names; sampleShape = dimensions; evalTransforms = parsed.data.evalTransforms
        sizing = PictureSizing(data: parsed.data, height: dimensions[1], width: dimensions[2])
        modelYAML = model; modelArguments = parsed.modelArguments; borderMean = Double(metadata[Self.keys.border] ?? "") ?? 0; configText = config
    }

    /// Writes `classes.txt` (one name per line) into a run folder.
    public static func writeClassNames(_ names: [String], into folder: URL) throws(FileWriteError) {
        try AtomicFile.write(names.joined(separator: "\n") + "\n", to: folder.appendingPathComponent(classNamesFile))
    }

    /// Width of the border strip `--invert auto` and `border_mean` look at: 1/14 of the shorter side
    /// (2 pixels of a 28×28 digit), at least one pixel.
    static func borderWidth(height: Int, width: Int) -> Int { max(1, min(height, width) / 14) }

    /// Mean of the border strip of one plane starting at `start` in `pixels`.
    static func borderMean(of pixels: [UInt8], start: Int, height: Int, width: Int) -> Double {
        pixels.withUnsafeBufferPointer { borderMean(of: $0, start: start, height: height, width: width) }
    }

    /// Mean of the border strip of one plane starting at `start` in `pixels`.
    static func borderMean(of pixels: UnsafeBufferPointer<UInt8>, start: Int, height: Int, width: Int) -> Double {
        let strip = borderWidth(height: height, width: width)
        var sum = 0, count = 0
        for y in 0..<height {
            let inBand = y < strip || y >= height - strip
            for x in 0..<width where inBand || x < strip || x >= width - strip {
                sum += Int(pixels[start + y * width + x]); count += 1
            }
        }
        return count > 0 ? Double(sum) / Double(count) : 0
    }
}
