import ArgumentParser
import CNNSpec
import CNNTrain
import Foundation

/// `cnnspec predict RUN_DIR|CHECKPOINT IMAGE…`: top-k classes of picture files, from a run folder or a
/// checkpoint alone (its metadata holds the model, class names and eval transforms).
struct PredictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "Classify PNG, JPEG, PGM/PPM or BMP images with a trained checkpoint or run folder.",
        discussion: """
            cnnspec predict RUN_DIR IMAGE…  uses RUN_DIR/best.safetensors, else last.safetensors.

            cnnspec predict --checkpoint FILE IMAGE…  (or FILE.safetensors as the first argument) needs nothing else: the checkpoint's metadata holds the model, the class names and the eval transforms.

            cnnspec predict CONFIG --checkpoint FILE IMAGE…  is for checkpoints older than that metadata (loads the config's dataset).

            Each image's transparency is composited onto --background; it is converted to the model's channels (grey ↔ RGB), optionally inverted and centred, resized (bilinear) to the training images' size, then the run's eval transforms (normalization as trained) run. --invert auto (the default) compares the image's border with the training images' and inverts dark-on-light drawings for light-on-dark grey models (MNIST), saying so. An unreadable image is reported and the others are still classified; the exit status is then 1.
            """)

    @Argument(help: "A run folder, a .safetensors checkpoint or a run config, then the images (.png, .jpg, .pgm, .ppm, .bmp).")
    var inputs: [String] = []

    @Option(help: "Safetensors checkpoint (best.safetensors, last.safetensors, …).")
    var checkpoint: String?

    @Option(name: .customLong("top-k"), help: "How many classes to list per image.")
    var topK: Int = 3

    @Option(help: "auto (grey models: invert when the image's background is light and the training images' dark, or the reverse), yes, or no.")
    var invert: String = "auto"

    @Flag(help: "MNIST-style centring: crop to the ink, fit 20×20 (of 28×28) keeping the aspect, centre by mass.")
    var center = false

    @Option(help: "Background for transparent pixels: white or black.")
    var background: String = "white"

    @Option(help: "Output format: text or json.")
    var format: String = "text"

    @Option(name: .customLong("set"), help: ArgumentHelp("Override a config key (with a CONFIG argument).", valueName: "key.path=value"))
    var overrides: [String] = []

    func validate() throws {
        guard ["text", "json"].contains(format) else { throw ValidationError("--format must be text or json") }
        guard topK >= 1 else { throw ValidationError("--top-k must be at least 1") }
        guard ["auto", "yes", "no"].contains(invert) else { throw ValidationError("--invert must be auto, yes or no") }
        guard ["white", "black"].contains(background) else { throw ValidationError("--background must be white or black") }
        if inputs.isEmpty { throw ValidationError("give a run folder or checkpoint and at least one image file") }
    }

    /// The model, eval pipeline and class names to predict with, and the training images' border brightness.
    private struct Source {
        var graph: ModelGraph
        var pipeline: TransformPipeline
        var classNames: [String]
        var trainingBorder: Double
        var checkpoint: String
        var images: [String]
    }

    private func resolveSource() throws -> Source {
        var images = inputs
        var checkpointPath = checkpoint
        var configPath: String?
        let first = images[0]
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: first, isDirectory: &isFolder), isFolder.boolValue {
            images.removeFirst()
            if checkpointPath == nil {
                let candidates = ["best.safetensors", "last.safetensors"].map { (first as NSString).appendingPathComponent($0) }
                guard let found = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) else {
                    throw UserError("not a run folder with a checkpoint (no best.safetensors or last.safetensors)", file: first)
                }
                checkpointPath = found
            }
            let runConfig = (first as NSString).appendingPathComponent(RunFolder.configFile)
            if FileManager.default.fileExists(atPath: runConfig) { configPath = runConfig }
        } else if first.hasSuffix(".yaml") || first.hasSuffix(".yml") {
            images.removeFirst()
            configPath = first
        } else if first.hasSuffix(".safetensors") && checkpointPath == nil {
            images.removeFirst()
            checkpointPath = first
        }
        guard let checkpointPath else {
            throw UserError("no checkpoint: give a run folder, a .safetensors file, or --checkpoint FILE before the images")
        }
        guard !images.isEmpty else { throw UserError("give at least one image file after \(first)") }
        let contents = try SafetensorsFile.read(from: URL(fileURLWithPath: checkpointPath))
        if let info = try PredictionInfo(metadata: contents.metadata, path: checkpointPath), overrides.isEmpty || configPath == nil {
            let graph = try ModelSpecLoader.load(yaml: info.modelYAML, file: checkpointPath + " (stored model)", catalog: .standard)
            let pipeline = try TransformPipeline(steps: info.evalTransforms, channels: info.sampleShape[0],
                                                 height: info.sampleShape[1], width: info.sampleShape[2])
            return Source(graph: graph, pipeline: pipeline, classNames: info.classNames, trainingBorder: info.borderMean,
                          checkpoint: checkpointPath, images: images)
        }
        guard let configPath else {
            throw UserError("this checkpoint predates stored prediction metadata (model, classes, transforms)", file: checkpointPath,
                            hint: "give the run config it was trained with: cnnspec predict CONFIG --checkpoint \(checkpointPath) IMAGE…")
        }
        let setup = try RunSetup(configPath: configPath, overrides: overrides)
        let data = try setup.loadData()
        let info = PredictionInfo(config: setup.config, data: data)
        return Source(graph: setup.graph, pipeline: data.evalPipeline, classNames: data.classNames, trainingBorder: info.borderMean,
                      checkpoint: checkpointPath, images: images)
    }

    func run() throws {
        var failures = 0, total = 0
        try reportingUserErrors {
            let source = try resolveSource()
            total = source.images.count
            let plan = try ExecutionPlan(graph: source.graph, batchCapacity: min(64, source.images.count),
                                         backend: .fixed(.im2col), threads: 0, seed: 0)
            _ = try CheckpointIO.load(into: plan.parameters, from: URL(fileURLWithPath: source.checkpoint))
            plan.parametersDidChange()
            let names = source.classNames
            guard names.count == plan.classCount else {
                throw UserError("\(names.count) class names but the model gives \(plan.classCount) outputs", file: source.checkpoint)
            }
            let predictor = ImagePredictor(plan: plan, pipeline: source.pipeline, invert: false, center: center)
            let trainingLight = source.trainingBorder > Self.lightBorder
            // Only drawings-like training sets (one channel, borders clearly dark or light) say which way
            // round a picture should be; photos (RGB, mixed borders) are never inverted automatically.
            let autoInverts = source.pipeline.inputChannels == 1
                && (source.trainingBorder < Self.clearlyDark || source.trainingBorder > 255 - Self.clearlyDark)
            var samples: [[UInt8]] = []
            var readable: [String] = []
            for path in source.images {
                let image: RasterImage
                do {
                    image = try ImageFile.read(path: path, background: background == "white" ? 255 : 0)
                } catch {
                    printError("\(error)")
                    failures += 1
                    continue
                }
                var conversion = predictor.conversion
                switch invert {
                case "yes": conversion.invert = true
                case "no": conversion.invert = false
                default:
                    guard autoInverts else { break }
                    let border = conversion.borderMean(of: image)
                    let light = border > Self.lightBorder
                    conversion.invert = light != trainingLight
                    if conversion.invert {
                        printError(String(format: "%@: note: %@ background (border mean %.0f) but the model was trained on %@ backgrounds (%.0f): inverting (--invert no keeps it)",
                                                   path, light ? "light" : "dark", border, trainingLight ? "light" : "dark", source.trainingBorder))
                    }
                }
                samples.append(conversion.sample(from: image))
                readable.append(path)
            }
            let predictions = predictor.predict(samples)
            let k = min(topK, names.count)
            if format == "json" {
                let entries = zip(readable, predictions).map { path, prediction in
                    let top = prediction.ranked.prefix(k).map {
                        "{\"class\": \(JSONText.quoted(names[$0.index])), \"index\": \($0.index), \"probability\": \(String(format: "%.6f", $0.probability))}"
                    }
                    return "  {\"image\": \(JSONText.quoted(path)), \"top\": [\(top.joined(separator: ", "))]}"
                }
                print("[\n" + entries.joined(separator: ",\n") + "\n]")
            } else {
                for (path, prediction) in zip(readable, predictions) {
                    let top = prediction.ranked.prefix(k).map { "\(names[$0.index]) " + String(format: "%.1f%%", $0.probability * 100) }
                    print("\(path): " + top.joined(separator: ", "))
                }
            }
        }
        if failures > 0 {
            printError("\(failures) of \(total) image\(failures == 1 ? "" : "s") could not be read; the others were classified")
            throw ExitCode(1)
        }
    }

    /// Border brightness above this (of 255) counts as a light background.
    static let lightBorder = 127.5
    /// Training borders darker than this (or lighter than 255 minus it) are a clear convention to match.
    static let clearlyDark = 64.0
}
