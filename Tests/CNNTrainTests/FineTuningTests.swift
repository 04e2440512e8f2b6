import CNNSpec
import Foundation
import Testing
import CNNLayers
@testable import CNNTrain

@Suite(.serialized) struct FineTuningTests {
    static let base = """
        name: base
        input: [1, 12, 12]
        layers:
          - conv: {out: 4, kernel: 3, padding: 1, name: cnn1}
          - relu
          - maxpool: 2
          - flatten
          - linear: {out: 3, name: fc1}
        """
    static let wider = base.replacingOccurrences(of: "linear: {out: 3", with: "linear: {out: 5")

    /// A checkpoint of `base` with seed-7 weights.
    private func checkpoint(in folder: URL) throws -> (URL, ExecutionPlan) {
        let plan = try ExecutionPlan(graph: try ModelSpecLoader.load(yaml: Self.base, catalog: .standard), batchCapacity: 1, backend: .fixed(.direct), threads: 1, seed: 7)
        let url = folder.appendingPathComponent("base.safetensors")
        try CheckpointIO.save(plan.parameters, metadata: [:], to: url)
        return (url, plan)
    }

    @Test func strictInitNamesMismatchedTensorsAndExcludeKeepsANewHead() throws {
        let folder = TrainingTestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let (url, source) = try checkpoint(in: folder)
        let target = try ExecutionPlan(graph: try ModelSpecLoader.load(yaml: Self.wider, catalog: .standard), batchCapacity: 1, backend: .fixed(.direct), threads: 1, seed: 8)
        do {
            _ = try InitialWeightsLoader.load(InitialWeights(checkpoint: url.path), into: target.parameters)
            Issue.record("a shape mismatch must be an error when strict")
        } catch {
            #expect(error.description.contains("'fc1.weight' has shape [3, 144] in the file, the model needs [5, 144]"), "\(error)")
            #expect(error.description.contains("strict: false"))
        }
        let seededHead = target.parameters.values(of: "fc1.weight")
        let lenient = try InitialWeightsLoader.load(InitialWeights(checkpoint: url.path, strict: false), into: target.parameters)
        #expect(lenient.skipped.count == 2 && lenient.loaded == ["cnn1.weight", "cnn1.bias"])
        #expect(target.parameters.values(of: "cnn1.weight") == source.parameters.values(of: "cnn1.weight"))
        #expect(target.parameters.values(of: "fc1.weight") == seededHead)
        let excluded = try InitialWeightsLoader.load(InitialWeights(checkpoint: url.path, exclude: ["fc1"]), into: target.parameters)
        #expect(excluded.excluded == ["fc1.weight", "fc1.bias"] && excluded.skipped.isEmpty)
        #expect(throws: CheckpointError.self) {
            try InitialWeightsLoader.load(InitialWeights(checkpoint: url.path, exclude: ["fc9"]), into: target.parameters)
        }
    }

    @Test func frozenLayersDoNotMoveWhileTheRestTrains() throws {
        let folder = TrainingTestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let (url, source) = try checkpoint(in: folder)
        let root = try FolderFixture.make(perClass: 12)
        defer { try? FileManager.default.removeItem(at: root) }
        let modelPath = folder.appendingPathComponent("wider.yaml")
        try Self.wider.write(to: modelPath, atomically: true, encoding: .utf8)
        let config = try RunConfigLoader.parse("""
            model: \(modelPath.path)
            data: {dataset: folder, root: \(root.path), validation_split: 0}
            train:
              batch_size: 6
              epochs: 2
              optimizer: {name: adamw, lr: 0.01, weight_decay: 0.1}
              threads: 1
              backend: direct
              init: {checkpoint: \(url.path), exclude: [fc1]}
              freeze: [cnn1]
            output: {dir: \(folder.appendingPathComponent("run").path)}
            """, file: "finetune.yaml")
        #expect(config.train.freeze == ["cnn1"] && config.train.initialization?.exclude == ["fc1"])
        #expect(config.yamlText.contains("freeze: [\"cnn1\"]"))
        #expect(try RunConfigLoader.parse(config.yamlText, file: "again.yaml").yamlText == config.yamlText, "resolved config round-trips")
        let graph = try ModelSpecLoader.load(path: modelPath.path, catalog: .standard)
        let data = try TrainingData.load(config.data, seed: 0, modelInput: graph.inputShape.dimensions, report: FolderFixture.silent)
        let trainer = try Trainer(config: config, graph: graph, data: data, folder: try RunFolder.create(for: config, base: folder),
                                  reporter: TrainingTestSupport.quiet)
        let head = trainer.plan.parameters.values(of: "fc1.weight")
        _ = try trainer.run()
        #expect(trainer.plan.parameters.values(of: "cnn1.weight") == source.parameters.values(of: "cnn1.weight"))
        #expect(trainer.plan.parameters.values(of: "cnn1.bias") == source.parameters.values(of: "cnn1.bias"))
        #expect(trainer.plan.parameters.values(of: "fc1.weight") != head, "the new head trains")
    }

    @Test func freezingAnUnknownLayerIsAnError() throws {
        let plan = try ExecutionPlan(graph: try ModelSpecLoader.load(yaml: Self.base, catalog: .standard), batchCapacity: 1, backend: .fixed(.direct), threads: 1)
        do {
            _ = try FrozenParameters(layers: ["cnn9"], store: plan.parameters)
            Issue.record("expected an error")
        } catch {
            #expect(error.description.contains("'cnn9' matches no layer with parameters (layers with parameters: cnn1, fc1)"))
        }
    }

    @Test func configKeysParseAndReportMistakes() throws {
        let config = try RunConfigLoader.parse("""
            model: m.yaml
            data: {dataset: npy, root: arrays, shuffle: false, on_bad_file: skip}
            train: {init: base.safetensors, freeze: cnn1}
            """, file: "c.yaml")
        #expect(config.data.dataset == .npy && !config.data.shuffle && config.data.onBadFile == .skip)
        #expect(config.train.initialization == InitialWeights(checkpoint: "base.safetensors") && config.train.freeze == ["cnn1"])
        #expect(try RunConfigLoader.parse(config.yamlText, file: "again.yaml").yamlText == config.yamlText)
        let plain = try RunConfigLoader.parse("model: m.yaml\n", file: "p.yaml")
        #expect(!plain.yamlText.contains("shuffle") && !plain.yamlText.contains("init"), "defaults are not written (hashes stay)")
        #expect(throws: SpecError.self) { try RunConfigLoader.parse("model: m.yaml\ndata: {dataset: folder}\n", file: "f.yaml") }
        do {
            _ = try RunConfigLoader.parse("model: m.yaml\ndata: {on_bad_file: ignore}\ntrain: {init: {strict: false}}\n", file: "e.yaml")
            Issue.record("expected errors")
        } catch {
            #expect(error.description.contains("on_bad_file"))
            #expect(error.description.contains("'train.init' needs 'checkpoint'"))
        }
    }
}

struct PredictionInfoTests {
    @Test func olderCheckpointsHaveNoInfoAndDamagedEntriesAreNamed() throws {
        #expect(try PredictionInfo(metadata: ["config_hash": "x"], path: "old.safetensors") == nil)
        let damaged = ["cnnspec.classes": "[1, 2", "cnnspec.sample_shape": "1,28,28", "cnnspec.config": "model: m.yaml\n",
                       "cnnspec.model_yaml": ""]
        do {
            _ = try PredictionInfo(metadata: damaged, path: "bad.safetensors")
            Issue.record("expected an error")
        } catch {
            #expect(error.description.contains("bad.safetensors") && error.description.contains("cnnspec.classes"))
        }
    }
}

struct PredictPreprocessingTests {
    /// A dark digit-like bar drawn small in the corner of a big white page.
    private func page() -> RasterImage {
        var pixels = [UInt8](repeating: 255, count: 100 * 80)
        for y in 10..<30 { for x in 60..<66 { pixels[y * 80 + x] = 0 } }
        return RasterImage(width: 80, height: 100, channels: 1, pixels: pixels)
    }

    @Test func centeringFitsTheInkInto20PixelsAtTheCentreOfMass() {
        let conversion = SampleConversion(channels: 1, height: 28, width: 28, invert: true, center: true)
        let sample = conversion.sample(from: page())
        var top = 28, bottom = -1, left = 28, right = -1, mass = 0.0, sumX = 0.0, sumY = 0.0
        for y in 0..<28 { for x in 0..<28 where sample[y * 28 + x] > 0 {
            top = min(top, y); bottom = max(bottom, y); left = min(left, x); right = max(right, x)
            mass += Double(sample[y * 28 + x]); sumX += Double(x) * Double(sample[y * 28 + x]); sumY += Double(y) * Double(sample[y * 28 + x])
        } }
        #expect(bottom - top + 1 == 20, "the ink's long side becomes 20 pixels")
        #expect(abs(sumX / mass - 13.5) <= 0.6 && abs(sumY / mass - 13.5) <= 0.6, "centred by mass")
        #expect(sample[0] == 0 && sample[27 * 28 + 27] == 0, "background stays dark")
    }

    @Test func borderBrightnessTellsLightFromDarkBackgrounds() {
        let conversion = SampleConversion(channels: 1, height: 28, width: 28, invert: false)
        #expect(conversion.borderMean(of: page()) > 250)
        let dark = RasterImage(width: 28, height: 28, channels: 1, pixels: page().pixels.prefix(784).map { 255 - $0 })
        #expect(conversion.borderMean(of: dark) < 5)
    }

    @Test func transparentDrawingGetsABackgroundNotBlackEverywhere() throws {
        // RGBA: black ink (alpha 255) on a fully transparent black canvas.
        var samples: [Int] = []
        for index in 0..<16 { samples += [0, 0, 0, index % 5 == 0 ? 255 : 0] }
        let bytes = PNGTestFiles.png(width: 4, height: 4, depth: 8, colorType: 6, samples: samples, samplesPerPixel: 4)
        let image = try ImageFile.decode(bytes, path: "drawing.png")
        #expect(image.pixels.filter { $0 == 255 }.count == 3 * 12 && image.pixels.filter { $0 == 0 }.count == 3 * 4)
    }
}
