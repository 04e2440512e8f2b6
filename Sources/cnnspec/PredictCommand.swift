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

            Each image is (1) composited onto --background where it is transparent, (2) converted to the model's channels (grey ↔ RGB), (3) inverted when asked: --invert auto (the default) compares the image's border with the training images' and inverts dark-on-light drawings for light-on-dark grey models (MNIST), saying so, (4) resized (bilinear) to the training images' size, or with --center cropped to the ink, fitted and centred as MNIST was, (5) passed through the run's eval transforms (normalization as trained). The steps are those of docs/report.md.

            An unreadable image is reported and the others are still classified; the exit status is then 1.
            """)

    @Argument(help: "A run folder, a .safetensors checkpoint or a run config, then the images (.png, .jpg, .pgm, .ppm, .bmp) or folders of them (walked recursively).")
    var inputs: [String] = []

    @Option(help: "Checkpoint: safetensors (best.safetensors, last.safetensors, …) or a PyTorch torch.save state_dict (.pth).")
    var checkpoint: String?

    @Option(help: "The entry of a PyTorch checkpoint dict that holds the state_dict (default: the dict itself, else 'state_dict', 'model_state_dict' or 'model').")
    var checkpointKey: String?

    @Option(name: .customLong("top-k"), help: "How many classes to list per image.")
    var topK: Int = 3

    @Option(help: "auto (grey models: invert when the image's background is light and the training images' dark, or the reverse), yes, or no.")
    var invert: String = "auto"

    @Flag(help: "MNIST-style centring: crop to the ink, fit 20×20 (of 28×28) keeping the aspect, centre by mass.")
    var center = false

    @Option(help: "Background for transparent pixels: white or black.")
    var background: String = "white"

    @Option(help: "Output format: text, json or csv (one row per file).")
    var format: String = "text"

    @Option(name: [.customShort("o"), .long], help: "Write the predictions to this file (atomically: a temporary file, then renamed) instead of standard output.")
    var output: String?

    @Option(name: .customLong("set"), help: ArgumentHelp("Override a config key (with a CONFIG argument).", valueName: "key.path=value"))
    var overrides: [String] = []

    func validate() throws {
        guard ["text", "json", "csv"].contains(format) else { throw ValidationError("--format must be text, json or csv") }
        guard topK >= 1 else { throw ValidationError("--top-k must be at least 1") }
        guard CheckpointPredictor.Invert(rawValue: invert) != nil else { throw ValidationError("--invert must be auto, yes or no") }
        guard CheckpointPredictor.Background(rawValue: background) != nil else { throw ValidationError("--background must be white or black") }
        if inputs.isEmpty { throw ValidationError("give a run folder or checkpoint and at least one image file") }
    }

    func run() throws {
        var report = CheckpointPredictor.Report()
        try reportingUserErrors {
            let inputs = try CheckpointPredictor.splitInputs(inputs, checkpoint: checkpoint)
            let source = try ModelSource.resolve(path: inputs.source, checkpoint: inputs.checkpoint, checkpointKey: checkpointKey,
                                                overrides: overrides)
            let images = ImagePaths.expand(inputs.images)
            for folder in images.emptyFolders { printError("\(folder): note: no pictures in this folder") }
            if images.skipped > 0 {
                printError("note: skipped \(images.skipped) file\(images.skipped == 1 ? "" : "s") in the folders that are not pictures "
                    + "(by extension: \(ImagePaths.extensions.sorted().joined(separator: ", ")))")
            }
            guard !images.files.isEmpty else { throw UserError("no pictures to classify in \(inputs.images.joined(separator: ", "))") }
            let predictor = try CheckpointPredictor(source: source, imageCount: images.files.count, center: center)
            // invariant: validate() accepted only the Invert and Background names
            report = predictor.classifyAll(paths: images.files, invert: CheckpointPredictor.Invert(rawValue: invert)!,
                                           background: CheckpointPredictor.Background(rawValue: background)!.level)
            report.messages.forEach(printError)
            let k = min(topK, predictor.classNames.count)
            let text: String
            switch format {
            case "json": text = report.json(topK: k) + "\n"
            case "csv": text = report.csv(topK: k)
            default: text = report.results.isEmpty ? "" : report.text(topK: k) + "\n"
            }
            if let output {
                try AtomicFile.write(text, to: URL(fileURLWithPath: output))
                printError("predictions for \(report.order.count) file\(report.order.count == 1 ? "" : "s") written to \(output)")
            } else {
                FileHandle.standardOutput.write(Data(text.utf8))
            }
        }
        if let summary = report.failureSummary {
            printError(summary)
            throw ExitCode(1)
        }
    }
}
