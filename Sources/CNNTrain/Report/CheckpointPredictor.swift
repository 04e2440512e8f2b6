import CNNKernels
import CNNSpec
import Foundation

/// `cnnspec predict`'s work: a `ModelSource` compiled with its checkpoint, its eval pipeline and class names
/// (stored in the checkpoint's metadata, else from the run config's dataset), and picture files classified
/// with `--invert`, `--center` and `--background` applied. The command only parses and prints.
public final class CheckpointPredictor {
    public enum Invert: String, Sendable, CaseIterable { case auto, yes, no }

    /// `--background`: what transparent pixels are composited onto.
    public enum Background: String, Sendable, CaseIterable {
        case white, black

        /// The grey level (0…255) `ImageFile.read` composites onto.
        public var level: UInt8 {
            switch self {
            case .white: return 255
            case .black: return 0
            }
        }
    }

    /// One classified image: its classes, most probable first.
    public struct Result: Sendable {
        public var path: String
        public var ranked: [(index: Int, className: String, probability: Float)]
    }

    /// The outcome of classifying files: results of the readable ones, and in order the notes (inversions)
    /// and errors (unreadable images) to show on standard error.
    public struct Report: Sendable {
        public var results: [Result] = []
        public var messages: [String] = []
        public var failures = 0
        public var imageCount = 0
        /// Each unreadable file and why, in input order.
        public var failed: [(path: String, problem: String)] = []

        public init(imageCount: Int = 0) { self.imageCount = imageCount }

        /// `PATH: class 97.1%, class 2.0%, …`, one line per image.
        public func text(topK: Int) -> String {
            results.map { result in
                "\(result.path): " + result.ranked.prefix(topK).map { "\($0.className) " + String(format: "%.1f%%", $0.probability * 100) }
                    .joined(separator: ", ")
            }.joined(separator: "\n")
        }

        /// A JSON array, one entry per file in input order: `{"image": PATH, "top": [{"class", "index",
        /// "probability"}, …]}`, or `{"image": PATH, "error": TEXT}` for a file that could not be read.
        public func json(topK: Int) -> String {
            let entries = rows.map { row in
                switch row {
                case .result(let result):
                    let top = result.ranked.prefix(topK).map {
                        "{\"class\": \(JSONText.quoted($0.className)), \"index\": \($0.index), \"probability\": \(String(format: "%.6f", $0.probability))}"
                    }
                    return "  {\"image\": \(JSONText.quoted(result.path)), \"top\": [\(top.joined(separator: ", "))]}"
                case .failure(let path, let problem):
                    return "  {\"image\": \(JSONText.quoted(path)), \"error\": \(JSONText.quoted(problem))}"
                }
            }
            return entries.isEmpty ? "[]" : "[\n" + entries.joined(separator: ",\n") + "\n]"
        }

        /// CSV (RFC 4180), one row per file in input order: `image,class,index,probability`, then
        /// `class_2,probability_2` … up to `topK`, and `error` (empty unless the file could not be read).
        public func csv(topK: Int) -> String {
            var header = ["image", "class", "index", "probability"]
            for rank in stride(from: 2, through: topK, by: 1) { header += ["class_\(rank)", "probability_\(rank)"] }
            header.append("error")
            var lines = [header.joined(separator: ",")]
            for row in rows {
                var fields: [String]
                switch row {
                case .result(let result):
                    let ranked = Array(result.ranked.prefix(topK))
                    fields = [result.path, ranked.first?.className ?? "", ranked.first.map { String($0.index) } ?? "",
                              ranked.first.map { String(format: "%.6f", $0.probability) } ?? ""]
                    for rank in stride(from: 1, to: topK, by: 1) {
                        fields += rank < ranked.count ? [ranked[rank].className, String(format: "%.6f", ranked[rank].probability)] : ["", ""]
                    }
                    fields.append("")
                case .failure(let path, let problem):
                    fields = [path, "", "", ""] + Array(repeating: "", count: 2 * max(0, topK - 1)) + [problem]
                }
                lines.append(fields.map(Self.csvField).joined(separator: ","))
            }
            return lines.joined(separator: "\n") + "\n"
        }

        /// A field quoted when it holds a comma, quote or line break (quotes doubled).
        static func csvField(_ text: String) -> String {
            guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return text }
            return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        }

        /// One file's outcome.
        public enum Row: Sendable {
            case result(Result)
            case failure(path: String, problem: String)
        }

        /// Results and failures in the order the files were given.
        public var rows: [Row] {
            var byPath: [String: Result] = [:]
            for result in results { byPath[result.path] = result }
            var problems: [String: String] = [:]
            for failure in failed { problems[failure.path] = failure.problem }
            return order.compactMap { path -> Row? in
                if let result = byPath[path] { return .result(result) }
                return problems[path].map { .failure(path: path, problem: $0) }
            }
        }

        /// Every file classified or refused, in input order.
        public var order: [String] = []

        /// Adds `other`'s files after these (chunks of a long list).
        public mutating func append(_ other: Report) {
            results += other.results; messages += other.messages; failures += other.failures
            failed += other.failed; order += other.order
        }

        /// The closing line when some images could not be read, else nil.
        public var failureSummary: String? {
            failures > 0 ? "\(failures) of \(imageCount) image\(failures == 1 ? "" : "s") could not be read; the others were classified" : nil
        }
    }

    /// Border brightness above this (of 255) counts as a light background.
    public static let lightBorder = 127.5
    /// Training borders darker than this (or lighter than 255 minus it) are a clear convention to match.
    public static let clearlyDark = 64.0
    /// Most images classified per forward pass.
    public static let maximumBatch = 64
    /// What a memory error tells the user to lower: the batch is the images given, up to `maximumBatch`.
    static let batchDescription = "the number of images"

    public let source: ModelSource
    public let classNames: [String]
    /// Mean brightness of the training images' borders (0…255).
    public let trainingBorder: Double
    public let predictor: ImagePredictor

    /// `predict`'s command-line inputs split into the source (a run folder, a `.yaml`/`.yml` config, or a
    /// `.safetensors` file when `--checkpoint` is not given; else `--checkpoint` itself) and the images.
    public static func splitInputs(_ inputs: [String], checkpoint: String?) throws -> (source: String, checkpoint: String?, images: [String]) {
        guard let first = inputs.first else { throw UserError("give a run folder or checkpoint and at least one image file") }
        var isFolder: ObjCBool = false
        // A folder is the source when it is a run folder; any other folder holds images to classify.
        let isRunFolder = FileManager.default.fileExists(atPath: first, isDirectory: &isFolder) && isFolder.boolValue
            && ([RunFolder.configFile] + ModelSource.runFolderCheckpoints).contains { name in
                FileManager.default.fileExists(atPath: (first as NSString).appendingPathComponent(name))
            }
        let isSource = isRunFolder || first.hasSuffix(".yaml") || first.hasSuffix(".yml") || (first.hasSuffix(".safetensors") && checkpoint == nil)
        let images = isSource ? Array(inputs.dropFirst()) : inputs
        guard isSource || checkpoint != nil else {
            throw UserError("no checkpoint: give a run folder, a .safetensors file, or --checkpoint FILE before the images")
        }
        guard !images.isEmpty else { throw UserError("give at least one image file or folder after \(first)") }
        return isSource ? (first, checkpoint, images) : (checkpoint!, nil, images)  // invariant: checked above
    }

    /// Compiles the source's model for `imageCount` images and loads its checkpoint. The eval transforms,
    /// class names and training border come from the checkpoint's metadata unless `--set` overrides changed
    /// the run config; then (and for checkpoints older than the metadata) from the config's dataset.
    public init(source: ModelSource, imageCount: Int, center: Bool = false) throws {
        guard let checkpoint = source.checkpoint else {
            throw UserError("no checkpoint", file: source.path, hint: "give a run folder, a .safetensors file, or --checkpoint FILE")
        }
        let pipeline: TransformPipeline
        let sizing: PictureSizing
        if let info = source.predictionInfo, !source.overridden || source.config == nil {
            pipeline = try TransformPipeline(steps: info.evalTransforms, channels: info.sampleShape[0],
                                             height: info.sampleShape[1], width: info.sampleShape[2])
            classNames = info.classNames; trainingBorder = info.borderMean; sizing = info.sizing
        } else if let config = source.config {
            let data = try TrainingData.load(for: config, graph: source.graph)
            pipeline = data.evalPipeline; classNames = data.classNames
            sizing = PictureSizing(data: config.data, height: data.trainFile.height, width: data.trainFile.width)
            trainingBorder = PredictionInfo(config: config, data: data).borderMean
        } else if CheckpointFile.format(of: checkpoint) == .pytorch {
            throw UserError("a PyTorch checkpoint holds no class names or eval transforms", file: checkpoint.path,
                             hint: "give a run config (its data gives them): cnnspec predict CONFIG --checkpoint \(checkpoint.path) IMAGE…")
        } else {
            throw UserError("a \(source.kind.rawValue) with a checkpoint older than stored prediction metadata has no class names or eval transforms",
                             file: source.path,
                             hint: "give the run config it was trained with: cnnspec predict CONFIG --checkpoint \(checkpoint.path) IMAGE…")
        }
        self.source = source
        let plan = try source.makeInferencePlan(batchCapacity: max(1, min(Self.maximumBatch, imageCount)),
                                                batchKey: Self.batchDescription)
        guard classNames.count == plan.classCount else {
            throw UserError("\(classNames.count) class names but the model gives \(plan.classCount) outputs", file: checkpoint.path)
        }
        predictor = ImagePredictor(plan: plan, pipeline: pipeline, invert: false, center: center, sizing: sizing)
    }

    /// Whether `--invert auto` inverts at all: only drawings-like training sets (one channel, borders clearly
    /// dark or light) say which way round a picture should be; photos (RGB, mixed borders) never are.
    public var autoInverts: Bool {
        predictor.pipeline.inputChannels == 1 && (trainingBorder < Self.clearlyDark || trainingBorder > 255 - Self.clearlyDark)
    }

    /// Files classified per chunk: bounds the decoded samples held at once for a folder of any size.
    public static let chunkSize = 256

    /// Classifies `paths` chunk by chunk (`classify(paths:)` on each), the same report as one call.
    public func classifyAll(paths: [String], invert: Invert = .auto, background: UInt8 = 255) -> Report {
        var report = Report(imageCount: paths.count)
        for start in stride(from: 0, to: paths.count, by: Self.chunkSize) {
            report.append(classify(paths: Array(paths[start..<min(start + Self.chunkSize, paths.count)]), invert: invert,
                                   background: background))
        }
        return report
    }

    /// Classifies the files; an unreadable one is an error message in the report, and the others are still classified.
    /// `background` (0…255) replaces transparent pixels.
    public func classify(paths: [String], invert: Invert = .auto, background: UInt8 = 255) -> Report {
        var report = Report(imageCount: paths.count)
        let trainingLight = trainingBorder > Self.lightBorder
        var samples: [ImagePredictor.Sample] = []
        var readable: [String] = []
        for path in paths {
            let image: RasterImage
            do {
                image = try ImageFile.read(path: path, background: background)
            } catch {
                report.messages.append("\(error)")
                report.failures += 1
                report.failed.append((path, "\(error)"))
                report.order.append(path)
                continue
            }
            var conversion = predictor.conversion
            switch invert {
            case .yes: conversion.invert = true
            case .no: conversion.invert = false
            case .auto:
                guard autoInverts else { break }
                let border = conversion.borderMean(of: image)
                let light = border > Self.lightBorder
                conversion.invert = light != trainingLight
                if conversion.invert {
                    report.messages.append(String(format: "%@: note: %@ background (border mean %.0f) but the model was trained on %@ backgrounds (%.0f): inverting (--invert no keeps it)",
                                                  path, light ? "light" : "dark", border, trainingLight ? "light" : "dark", trainingBorder))
                }
            }
            let sample = predictor.sample(from: image, conversion: conversion)
            do {
                _ = try predictor.pipeline.scratchBytes(height: sample.size.height, width: sample.size.width)
            } catch {
                report.messages.append("\(path): error: \(error.message)")
                report.failures += 1
                continue
            }
            samples.append(sample)
            readable.append(path)
            report.order.append(path)
        }
        let names = classNames
        // invariant: every sample's size was checked above, so predict does not throw
        let predictions = (try? predictor.predict(samples)) ?? []
        report.results = zip(readable, predictions).map { path, prediction in
            Result(path: path, ranked: prediction.ranked.map { (index: $0.index, className: names[$0.index], probability: $0.probability) })
        }
        return report
    }
}
