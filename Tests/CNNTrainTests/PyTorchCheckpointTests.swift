import CNNSpec
import Foundation
import PyTorchFixtures
import Testing
@testable import CNNTrain

/// `torch.save` files written by PyTorch (scripts/fixtures/make_pth_fixtures.py) load through the real
/// entry points — `train.init` (InitialWeightsLoader), `eval --checkpoint` (CheckpointIO), `predict` and
/// `export` (ModelSource) — and reproduce PyTorch's eval logits; what cnnspec refuses is refused by name.
@Suite struct PyTorchCheckpointTests {
    static let folder = PyTorchFixture.directory.appendingPathComponent("pth")
    /// The network of make_pth_fixtures.py, the same as the native-checkpoint fixtures'.
    static let model = NativePyTorchCheckpointTests.model

    static func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

    /// How weights reach the plan: the three entry points commands use.
    enum Entry: String, CaseIterable { case trainInit, checkpointIO, modelSource }

    /// The eval logits of `bn_net` with the weights of `file` loaded through `entry`.
    private func logits(_ file: String, key: String? = nil, entry: Entry) throws -> [Float] {
        let fixture = try PyTorchFixture.load("pth/bn_net")
        let input = try #require(fixture.tensors["input"])
        let plan: ExecutionPlan
        switch entry {
        case .trainInit, .checkpointIO:
            plan = try ExecutionPlan(graph: try ModelSpecLoader.load(yaml: Self.model, catalog: .standard), batchCapacity: input.shape[0],
                                     backend: .fixed(.direct), threads: 1)
            if entry == .trainInit {
                let outcome = try InitialWeightsLoader.load(InitialWeights(checkpoint: Self.path(file), key: key), into: plan.parameters)
                #expect(outcome.loaded.count == 15 && outcome.skipped.isEmpty, "\(outcome)")
            } else {
                try CheckpointIO.load(into: plan.parameters, from: URL(fileURLWithPath: Self.path(file)), key: key)
            }
        case .modelSource:
            let modelFile = TrainingTestSupport.temporaryFolder().appendingPathComponent("bn_net.yaml")
            try FileManager.default.createDirectory(at: modelFile.deletingLastPathComponent(), withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: modelFile.deletingLastPathComponent()) }
            try Self.model.write(to: modelFile, atomically: true, encoding: .utf8)
            let source = try ModelSource.resolve(path: modelFile.path, checkpoint: Self.path(file), checkpointKey: key)
            #expect(source.predictionInfo == nil)
            plan = try source.makeInferencePlan(batchCapacity: input.shape[0])
        }
        plan.parametersDidChange()
        plan.input.update(from: input.data, count: input.data.count)
        plan.forward(batch: input.shape[0], training: false)
        return Array(UnsafeBufferPointer(start: plan.logits, count: input.shape[0] * 10))
    }

    /// max |ours − PyTorch's| relative to PyTorch's largest logit.
    private func relativeDifference(_ ours: [Float], _ reference: String) throws -> Float {
        let expected = try #require(try PyTorchFixture.load("pth/bn_net").tensors[reference]).data
        #expect(ours.count == expected.count)
        let scale = expected.map(abs).max() ?? 1
        return zip(ours, expected).map { abs($0 - $1) }.max().map { $0 / scale } ?? .infinity
    }

    @Test(arguments: [("bn_net.pth", "logits_eval", nil), ("bn_net_fp64.pth", "logits_eval", nil),
                      ("bn_net_fp16.pth", "logits_eval_from_fp16_weights", nil),
                      ("bn_net_bf16.pth", "logits_eval_from_bf16_weights", nil),
                      ("bn_net_wrapped_state_dict.pth", "logits_eval", nil), ("bn_net_wrapped_model.pth", "logits_eval", nil),
                      ("bn_net_custom_key.pth", "logits_eval", "ema_weights"),
                      ("bn_net_noncontiguous.pth", "logits_eval", nil)] as [(String, String, String?)],
          Entry.allCases)
    func reproducesPyTorchLogits(file: (String, String, String?), entry: Entry) throws {
        let difference = try relativeDifference(try logits(file.0, key: file.2, entry: entry), file.1)
        #expect(difference <= 1e-5, "\(file.0) via \(entry): max |Δ| / max |logit| = \(difference)")
    }

    @Test func int64CountersAndTensorsAreRead() throws {
        let contents = try CheckpointFile.read(from: URL(fileURLWithPath: Self.path("bn_net.pth")))
        #expect(contents.tensors["bn1.num_batches_tracked"] == SafetensorsFile.Tensor(shape: [], data: [7]))
        #expect(contents.tensors.count == 15 && contents.metadata.isEmpty)
        let strided = try CheckpointFile.read(from: URL(fileURLWithPath: Self.path("bn_net_noncontiguous.pth")))
        #expect(strided.tensors == contents.tensors, "views are copied in logical row-major order")
    }

    private func message(_ file: String, key: String? = nil) -> String {
        do {
            _ = try CheckpointFile.read(from: URL(fileURLWithPath: Self.path(file)), key: key)
            return ""
        } catch {
            return error.description
        }
    }

    @Test func refusalsNameTheFileAndWhatWouldBeValid() throws {
        let legacy = message("bn_net_legacy.pth")
        #expect(legacy.hasPrefix(Self.path("bn_net_legacy.pth") + ": error: not a usable checkpoint: a PyTorch file in the legacy format"), "\(legacy)")
        #expect(legacy.contains("_use_new_zipfile_serialization=True"))
        let evil = message("bn_net_forbidden_global.pth")
        #expect(evil.contains("bn_net_forbidden_global/data.pkl: refers to the global '__builtin__.eval', which cnnspec refuses"), "\(evil)")
        let unkeyed = message("bn_net_custom_key.pth")
        #expect(unkeyed.contains("its keys: 'ema_weights', 'step'") && unkeyed.contains("--checkpoint-key KEY (train.init.key"), "\(unkeyed)")
        let wrongKey = message("bn_net_wrapped_model.pth", key: "ema")
        #expect(wrongKey.contains("has no entry 'ema' (the checkpoint key asked for); its keys: 'model', 'epoch'"), "\(wrongKey)")
        let notADict = message("bn_net_wrapped_model.pth", key: "epoch")
        #expect(notADict.contains("entry 'epoch' holds a integer 3, not a state_dict") || notADict.contains("entry 'epoch' holds"), "\(notADict)")
        let safetensors = PyTorchFixture.directory.appendingPathComponent("native-checkpoint/native_bn_net.safetensors")
        do {
            _ = try CheckpointFile.read(from: safetensors, key: "model")
            Issue.record("a key on a safetensors file is refused")
        } catch {
            #expect(error.description.contains("not a PyTorch torch.save file"))
        }
        // predict/export given the .pth alone: it holds no model, so say what to give instead.
        let alone = SessionTestProject.errorText { _ = try ModelSource.resolve(path: Self.path("bn_net.pth")) }
        #expect(alone.contains("a PyTorch checkpoint holds weights only, not the model") && alone.contains("--checkpoint"), "\(alone)")
    }

    @Test func mismatchedTensorsAreNamedAsForSafetensors() throws {
        let other = Self.model.replacingOccurrences(of: "linear: {out: 10", with: "linear: {out: 5")
        let plan = try ExecutionPlan(graph: try ModelSpecLoader.load(yaml: other, catalog: .standard), batchCapacity: 1,
                                     backend: .fixed(.direct), threads: 1)
        let text = SessionTestProject.errorText {
            try CheckpointIO.load(into: plan.parameters, from: URL(fileURLWithPath: Self.path("bn_net.pth")))
        }
        #expect(text.contains("'fc.weight' has shape [10, 16] in the file, the model needs [5, 16]"), "\(text)")
    }

    @Test func aFailedInitLeavesNoRunFolderSoTheRerunStarts() throws {
        let project = try SessionTestProject(train: "init: \(Self.path("bn_net_legacy.pth"))")
        defer { project.remove() }
        let runFolder = project.folder.appendingPathComponent("run")
        let text = SessionTestProject.errorText {
            guard case .ready(let session) = try TrainingSession.open(.fresh(configPath: project.configPath, overwrite: false),
                                                                       workingDirectory: project.folder, reporter: TrainingTestSupport.quiet) else { return }
            _ = try session.train()
        }
        #expect(text.contains("legacy format"), "\(text)")
        #expect(!FileManager.default.fileExists(atPath: runFolder.path), "the failed start left \(runFolder.path)")
        // The same config with a usable init: the rerun is not refused (wrong shapes are a strict error,
        // so keep the file's tensors out; what matters is that the folder is free).
        var config = try String(contentsOfFile: project.configPath, encoding: .utf8)
        config = config.replacingOccurrences(of: "init: \(Self.path("bn_net_legacy.pth"))", with: "seed: 3")
        try config.write(toFile: project.configPath, atomically: true, encoding: .utf8)
        guard case .ready(let session) = try TrainingSession.open(.fresh(configPath: project.configPath, overwrite: false),
                                                                   workingDirectory: project.folder, reporter: TrainingTestSupport.quiet) else {
            Issue.record("the rerun opens")
            return
        }
        #expect(session.folder.url.path == runFolder.path)
    }

    @Test func initKeyIsAConfigKey() throws {
        let config = try RunConfigLoader.parse("model: m.yaml\ntrain: {init: {checkpoint: w.pth, key: ema_weights, exclude: [fc]}}\n", file: "c.yaml")
        #expect(config.train.initialization == InitialWeights(checkpoint: "w.pth", exclude: ["fc"], key: "ema_weights"))
        #expect(try RunConfigLoader.parse(config.yamlText, file: "again.yaml").yamlText == config.yamlText)
    }
}
