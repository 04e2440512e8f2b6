import ArgumentParser
import CNNSpec
import CNNTrain
import Foundation

/// `cnnspec predict CONFIG --checkpoint FILE IMAGE…`: top-k classes of picture files.
struct PredictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "Classify PNG (8-bit grey/RGB) or PGM/PPM images with a trained checkpoint.",
        discussion: """
            Each image is converted to the dataset's channels (grey ↔ RGB), resized (bilinear) to the dataset's
            image size, optionally inverted, then the config's eval transforms (resize, normalization) run.
            MNIST and Fashion-MNIST are light on dark: pass --invert for dark-on-light drawings.
            """)

    @Argument(help: "Run config (YAML) the checkpoint was trained with (a run folder's config.yaml works).")
    var config: String

    @Option(help: "Safetensors checkpoint (best.safetensors, last.safetensors, …).")
    var checkpoint: String

    @Argument(help: "Images: .png (8-bit grey, RGB; alpha is dropped) or .pgm/.ppm.")
    var images: [String]

    @Option(name: .customLong("top-k"), help: "How many classes to list per image.")
    var topK: Int = 3

    @Flag(help: "Invert the pixels (255 − p): for dark-on-light drawings of light-on-dark datasets.")
    var invert = false

    @Option(help: "Output format: text or json.")
    var format: String = "text"

    @Option(name: .customLong("set"), help: ArgumentHelp("Override a config key.", valueName: "key.path=value"))
    var overrides: [String] = []

    func validate() throws {
        guard ["text", "json"].contains(format) else { throw ValidationError("--format must be text or json") }
        guard topK >= 1 else { throw ValidationError("--top-k must be at least 1") }
        if images.isEmpty { throw ValidationError("give at least one image file") }
    }

    func run() throws {
        try reportingUserErrors {
            let setup = try RunSetup(configPath: config, overrides: overrides)
            let data = try setup.loadData()
            let pictures = try images.map { path throws(ImageError) in try ImageFile.read(path: path) }
            let train = setup.config.train
            let plan = try ExecutionPlan(graph: setup.graph, batchCapacity: min(train.evalBatchSize, max(1, pictures.count)),
                                         backend: BackendRequest(train.backend == .auto ? .im2col : train.backend),
                                         threads: train.threads, seed: UInt64(truncatingIfNeeded: train.seed))
            _ = try CheckpointIO.load(into: plan.parameters, from: URL(fileURLWithPath: checkpoint))
            plan.parametersDidChange()
            let predictor = ImagePredictor(plan: plan, pipeline: data.evalPipeline, invert: invert)
            let predictions = predictor.predict(pictures)
            let names = data.classNames
            let k = min(topK, names.count)
            if format == "json" {
                let entries = zip(images, predictions).map { path, prediction in
                    let top = prediction.ranked.prefix(k).map {
                        "{\"class\": \(JSONText.quoted(names[$0.index])), \"index\": \($0.index), \"probability\": \(String(format: "%.6f", $0.probability))}"
                    }
                    return "  {\"image\": \(JSONText.quoted(path)), \"top\": [\(top.joined(separator: ", "))]}"
                }
                print("[\n" + entries.joined(separator: ",\n") + "\n]")
            } else {
                for (path, prediction) in zip(images, predictions) {
                    let top = prediction.ranked.prefix(k).map { "\(names[$0.index]) " + String(format: "%.1f%%", $0.probability * 100) }
                    print("\(path): " + top.joined(separator: ", "))
                }
            }
        }
    }
}
