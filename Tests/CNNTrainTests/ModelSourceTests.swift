import CNNKernels
import CNNSpec
import Foundation
import Testing
@testable import CNNTrain

/// `ModelSource.resolve`: every kind of path `predict` and `export` take, and the errors for the rest.
@Suite struct ModelSourceTests {
    /// A run folder of Model A with untrained weights: `config.yaml` (optional), `best` and `last`
    /// checkpoints with or without the prediction metadata (older checkpoints have none).
    static func runFolder(config: Bool = true, metadata: Bool = true, checkpoints: [String] = ModelSource.runFolderCheckpoints) throws -> URL {
        let folder = TrainingTestSupport.temporaryFolder()
        let (runConfig, graph) = try TrainingTestSupport.modelARun(epochs: 1, folder: folder)
        if config { try runConfig.yamlText.write(to: folder.appendingPathComponent(RunFolder.configFile), atomically: true, encoding: .utf8) }
        var info: [String: String] = [:]
        if metadata {
            let digits = TrainingTestSupport.syntheticDigits(count: 50, seed: 3)
            let data = try TrainingData(trainFile: digits, test: digits, config: runConfig.data, seed: 0)
            info = PredictionInfo(config: runConfig, data: data).metadata
        }
        let plan = try ExecutionPlan(graph: graph, batchCapacity: 1, backend: .fixed(.im2col), threads: 1, seed: 0)
        for (index, name) in checkpoints.enumerated() {
            try CheckpointIO.save(plan.parameters, metadata: info.merging(["which": "\(index)"]) { a, _ in a },
                                  to: folder.appendingPathComponent(name))
        }
        return folder
    }

    static func description(_ body: () throws -> ModelSource) -> String {
        do { _ = try body(); return "" } catch { return "\(error)" }
    }

    @Test func aRunFolderGivesBestThenLastWithTheStoredModel() throws {
        let folder = try Self.runFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let source = try ModelSource.resolve(path: folder.path)
        #expect(source.kind == .runFolder && source.checkpoint?.lastPathComponent == "best.safetensors")
        #expect(source.graph.name == "modelA" && source.config != nil)
        #expect(source.predictionInfo?.classNames == (0...9).map(String.init))
        #expect(source.predictionInfo?.sampleShape == [1, 28, 28])
        try FileManager.default.removeItem(at: folder.appendingPathComponent("best.safetensors"))
        #expect(try ModelSource.resolve(path: folder.path).checkpoint?.lastPathComponent == "last.safetensors")
        let chosen = folder.appendingPathComponent("last.safetensors").path
        #expect(try ModelSource.resolve(path: folder.path, checkpoint: chosen).checkpoint?.path == chosen)
    }

    @Test func aRunConfigAndAModelFileGiveTheirModel() throws {
        let folder = try Self.runFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let configPath = folder.appendingPathComponent(RunFolder.configFile).path
        let config = try ModelSource.resolve(path: configPath)
        #expect(config.kind == .runConfig && config.config != nil && config.checkpoint == nil && config.predictionInfo == nil)
        #expect(config.modelFile.hasSuffix("models/modelA.yaml"))
        let best = folder.appendingPathComponent("best.safetensors").path
        let withWeights = try ModelSource.resolve(path: configPath, checkpoint: best)
        #expect(withWeights.checkpoint?.path == best && withWeights.predictionInfo != nil && !withWeights.overridden)
        let overridden = try ModelSource.resolve(path: configPath, checkpoint: best, overrides: ["train.seed=7"])
        #expect(overridden.overridden && overridden.seed == 7)
        let modelPath = TrainingTestSupport.repository.appendingPathComponent("models/modelA.yaml").path
        let model = try ModelSource.resolve(path: modelPath)
        #expect(model.kind == .modelFile && model.config == nil && model.checkpoint == nil && model.graph.name == "modelA")
    }

    @Test func aCheckpointAloneGivesItsStoredModel() throws {
        let folder = try Self.runFolder(config: false)
        defer { try? FileManager.default.removeItem(at: folder) }
        let best = folder.appendingPathComponent("best.safetensors").path
        let source = try ModelSource.resolve(path: best)
        #expect(source.kind == .checkpoint && source.checkpoint?.path == best && source.config == nil)
        #expect(source.graph.name == "modelA" && source.modelFile == best + " (stored model)")
        #expect(source.predictionInfo?.evalTransforms.isEmpty == false)
        #expect(Self.description { try ModelSource.resolve(path: best, checkpoint: folder.appendingPathComponent("last.safetensors").path) }
            .contains("two checkpoints"))
        // A run folder without config.yaml still works when its checkpoint holds the model.
        let fromFolder = try ModelSource.resolve(path: folder.path)
        #expect(fromFolder.kind == .runFolder && fromFolder.config == nil && fromFolder.graph.name == "modelA")
    }

    @Test func missingPathsAndCheckpointsAreNamedWithWhatIsValid() throws {
        let missing = Self.description { try ModelSource.resolve(path: "/nonexistent/run") }
        #expect(missing.hasPrefix("/nonexistent/run: error: no such file or folder"))
        #expect(missing.contains("hint: give a run folder") && missing.contains(".safetensors checkpoint"))
        let folder = try Self.runFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let noCheckpoint = Self.description { try ModelSource.resolve(path: folder.path, checkpoint: "/nonexistent/best.safetensors") }
        #expect(noCheckpoint.hasPrefix("/nonexistent/best.safetensors: error: checkpoint not found"))
        #expect(Self.description { try ModelSource.resolve(path: "/nonexistent/best.safetensors") }.contains("no such file or folder"))
    }

    @Test func foldersWithoutConfigOrCheckpointsAreExplained() throws {
        let empty = TrainingTestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: empty) }
        let notARun = Self.description { try ModelSource.resolve(path: empty.path) }
        #expect(notARun.hasPrefix(empty.path + ": error: not a run folder (no config.yaml, no best.safetensors or last.safetensors)"))
        let configOnly = try Self.runFolder(checkpoints: [])
        defer { try? FileManager.default.removeItem(at: configOnly) }
        let noWeights = Self.description { try ModelSource.resolve(path: configOnly.path) }
        #expect(noWeights.contains("the run folder has no best.safetensors or last.safetensors") && noWeights.contains("--checkpoint FILE"))
    }

    @Test func olderCheckpointsNeedTheirConfig() throws {
        let folder = try Self.runFolder(metadata: false)
        defer { try? FileManager.default.removeItem(at: folder) }
        let best = folder.appendingPathComponent("best.safetensors").path
        let alone = Self.description { try ModelSource.resolve(path: best) }
        #expect(alone.hasPrefix(best + ": error: this checkpoint predates stored model metadata"))
        #expect(alone.contains("hint: give the run config it was trained with and the checkpoint: CONFIG --checkpoint \(best)"))
        // With its config (given, or in the run folder) it resolves, without prediction metadata.
        let configPath = folder.appendingPathComponent(RunFolder.configFile).path
        let withConfig = try ModelSource.resolve(path: configPath, checkpoint: best)
        #expect(withConfig.predictionInfo == nil && withConfig.graph.name == "modelA" && withConfig.checkpoint?.path == best)
        let fromFolder = try ModelSource.resolve(path: folder.path)
        #expect(fromFolder.predictionInfo == nil && fromFolder.config != nil)
        // Without: the run folder's missing config.yaml is named.
        try FileManager.default.removeItem(atPath: configPath)
        let folderAlone = Self.description { try ModelSource.resolve(path: folder.path) }
        #expect(folderAlone.contains("predates stored model metadata") && folderAlone.contains("has no config.yaml"))
        // The predictor cannot classify with a model file and an older checkpoint: it says what to give.
        let modelPath = TrainingTestSupport.repository.appendingPathComponent("models/modelA.yaml").path
        let modelOnly = try ModelSource.resolve(path: modelPath, checkpoint: best)
        let error = #expect(throws: UserError.self) { try CheckpointPredictor(source: modelOnly, imageCount: 1) }
        #expect(error?.description.contains("cnnspec predict CONFIG --checkpoint \(best) IMAGE…") == true)
    }

    @Test func predictInputsSplitIntoSourceAndImages() throws {
        let folder = TrainingTestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        // A folder without run files holds images: it needs a checkpoint.
        #expect(throws: UserError.self) { try CheckpointPredictor.splitInputs([folder.path, "a.png"], checkpoint: nil) }
        let images = try CheckpointPredictor.splitInputs([folder.path], checkpoint: "best.safetensors")
        #expect(images.source == "best.safetensors" && images.images == [folder.path])
        try "model: m.yaml\n".write(to: folder.appendingPathComponent(RunFolder.configFile), atomically: true, encoding: .utf8)
        let split = try CheckpointPredictor.splitInputs([folder.path, "a.png", "b.png"], checkpoint: nil)
        #expect(split.source == folder.path && split.images == ["a.png", "b.png"])
        let alone = try CheckpointPredictor.splitInputs(["model.safetensors", "a.png"], checkpoint: nil)
        #expect(alone.source == "model.safetensors" && alone.checkpoint == nil)
        let option = try CheckpointPredictor.splitInputs(["a.png"], checkpoint: "best.safetensors")
        #expect(option.source == "best.safetensors" && option.images == ["a.png"])
        let config = try CheckpointPredictor.splitInputs(["run.yaml", "a.png"], checkpoint: "old.safetensors")
        #expect(config.source == "run.yaml" && config.checkpoint == "old.safetensors")
        #expect(throws: UserError.self) { try CheckpointPredictor.splitInputs(["a.png"], checkpoint: nil) }
        #expect(throws: UserError.self) { try CheckpointPredictor.splitInputs([folder.path], checkpoint: nil) }
    }
}

/// `predict` with nothing but a checkpoint, anywhere: no config, no dataset, no run folder; its labels are
/// those evaluation gives on the same images. (The working directory is not changed: it is process-wide,
/// and other suites running alongside find `data/mnist` through it. The run folder is deleted instead, and
/// every path is absolute into a folder holding only the checkpoint and the pictures.)
@Suite(.serialized) struct PredictFromAnywhereTests {
    @Test func aCheckpointAlonePredictsWhatEvaluationPredicts() throws {
        let runFolder = TrainingTestSupport.temporaryFolder()
        let elsewhere = TrainingTestSupport.temporaryFolder()
        defer { for url in [runFolder, elsewhere] { try? FileManager.default.removeItem(at: url) } }
        let (_, data, test, reference, _) = try TrainingTestSupport.trainedModelA(folder: runFolder, train: 1000, test: 100,
                                                                                   backend: .fixed(.im2col))

        // Only the checkpoint and the pictures, in a folder of their own.
        let checkpoint = elsewhere.appendingPathComponent("model.safetensors")
        try FileManager.default.copyItem(at: runFolder.appendingPathComponent("last.safetensors"), to: checkpoint)
        try FileManager.default.removeItem(at: runFolder)
        var paths: [String] = []
        for index in 0..<test.count {
            let pixels = Array(test.images[(index * 784)..<((index + 1) * 784)])
            let url = elsewhere.appendingPathComponent("\(index).png")
            try PNGEncoder.encode(RasterImage(width: 28, height: 28, channels: 1, pixels: pixels)).write(to: url)
            paths.append(url.path)
        }
        let unreadable = elsewhere.appendingPathComponent("broken.png")
        try Data("not a picture".utf8).write(to: unreadable)
        paths.append(unreadable.path)

        let source = try ModelSource.resolve(path: checkpoint.path)
        #expect(source.config == nil && source.kind == .checkpoint)
        let predictor = try CheckpointPredictor(source: source, imageCount: paths.count)
        #expect(predictor.classNames == data.classNames)
        let report = predictor.classify(paths: paths, invert: .no)
        let labels = report.results.map { Int32($0.ranked[0].index) }
        // last.safetensors holds the weights evaluation just used (the run's final epoch).
        #expect(labels == reference.predicted)
        #expect(report.failures == 1 && report.messages.count == 1 && report.messages[0].contains("broken.png"))
        #expect(report.failureSummary == "1 of \(test.count + 1) image could not be read; the others were classified")
        #expect(report.text(topK: 1).split(separator: "\n").first?.hasPrefix("\(paths[0]): \(data.classNames[Int(reference.predicted[0])]) ") == true)
        #expect(report.json(topK: 2).contains("\"image\": \(JSONText.quoted(paths[0])), \"top\": [{\"class\": "))
    }
}
