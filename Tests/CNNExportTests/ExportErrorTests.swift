import CNNExport
import CNNSpec
import CNNTrain
import Foundation
import Testing

/// User errors are messages naming the file, and files are written whole or not at all.
@Suite struct ModelSourceErrorTests {
    @Test func missingSourceAndCheckpointAreNamed() throws {
        let error = #expect(throws: UserError.self) { try ModelSource.resolve(path: "/nonexistent/model.yaml", checkpoint: nil) }
        #expect(error?.description.contains("/nonexistent/model.yaml") == true)
        let missing = #expect(throws: UserError.self) {
            try ModelSource.resolve(path: ExportTestFiles.model("modelA"), checkpoint: "/nonexistent/best.safetensors")
        }
        #expect(missing?.description.contains("/nonexistent/best.safetensors: error: checkpoint not found") == true)
    }

    @Test func aRunFolderWithoutCheckpointsIsExplained() throws {
        let folder = try ExportTestFiles.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let empty = #expect(throws: UserError.self) { try ModelSource.resolve(path: folder.path, checkpoint: nil) }
        #expect(empty?.description.contains("config.yaml") == true)
        try "model: \(ExportTestFiles.model("modelA"))\ndata: {dataset: mnist}\n".write(
            to: folder.appendingPathComponent("config.yaml"), atomically: true, encoding: .utf8)
        let noWeights = #expect(throws: UserError.self) { try ModelSource.resolve(path: folder.path, checkpoint: nil) }
        #expect(noWeights?.description.contains("best.safetensors or last.safetensors") == true)
    }

    @Test func aRunFolderExportsItsBestCheckpoint() throws {
        let folder = try ExportTestFiles.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        try "model: \(ExportTestFiles.model("modelA"))\ndata: {dataset: mnist}\n".write(
            to: folder.appendingPathComponent("config.yaml"), atomically: true, encoding: .utf8)
        let initial = try ModelExport(source: try ModelSource.resolve(path: ExportTestFiles.model("modelA"), checkpoint: nil))
        var trained = initial.weights
        trained["fc1.bias"]?.data = Array(repeating: 0.5, count: 10)
        try SafetensorsFile.write(tensors: initial.weights, metadata: [:], to: folder.appendingPathComponent("last.safetensors"))
        try SafetensorsFile.write(tensors: trained, metadata: [:], to: folder.appendingPathComponent("best.safetensors"))
        let source = try ModelSource.resolve(path: folder.path, checkpoint: nil)
        #expect(source.checkpoint?.lastPathComponent == "best.safetensors")
        #expect(source.config != nil && source.graph.name == "modelA")
        #expect(try ModelExport(source: source).weights["fc1.bias"]?.data == Array(repeating: 0.5, count: 10))
    }

    @Test func aCheckpointOfAnotherModelIsRefusedNamingTensors() throws {
        let folder = try ExportTestFiles.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let other = try ModelExport(source: try ModelSource.resolve(path: ExportTestFiles.model("lenet5"), checkpoint: nil))
        let file = folder.appendingPathComponent("lenet5.safetensors")
        try SafetensorsFile.write(tensors: other.weights, metadata: [:], to: file)
        let source = try ModelSource.resolve(path: ExportTestFiles.model("modelA"), checkpoint: file.path)
        let error = #expect(throws: CheckpointError.self) { try ModelExport(source: source) }
        #expect(error?.description.contains(file.path) == true)
        #expect(error?.description.contains("cnn1.weight") == true)
    }

    @Test func anUnwritableOutputIsAnErrorAndLeavesNoTemporaryFile() throws {
        let folder = try ExportTestFiles.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let blocker = folder.appendingPathComponent("file")
        try Data("x".utf8).write(to: blocker)
        let export = try ModelExport(source: try ModelSource.resolve(path: ExportTestFiles.model("modelA"), checkpoint: nil))
        let data = try export.onnx()
        #expect(throws: FileWriteError.self) { try AtomicFile.write(data, to: blocker.appendingPathComponent("model.onnx")) }
        let target = folder.appendingPathComponent("model.onnx")
        try AtomicFile.write(data, to: target)
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted() == ["file", "model.onnx"])
    }

    @Test func npyHeaderIsAlignedAndShaped() throws {
        let data = try NPYFile.encode([1, 2, 3, 4, 5, 6], shape: [2, 3])
        let headerLength = Int(data[8]) | Int(data[9]) << 8
        #expect((10 + headerLength) % 64 == 0)
        let header = String(decoding: data[10..<(10 + headerLength)], as: UTF8.self)
        #expect(header.hasPrefix("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"))
        #expect(data.count == 10 + headerLength + 24)
        #expect(throws: FileWriteError.self) { try NPYFile.encode([1, 2], shape: [3]) }
    }

    @Test func referenceOfAModelFileIsDeterministicRandomImages() throws {
        let source = try ModelSource.resolve(path: ExportTestFiles.model("modelA"), checkpoint: nil)
        let first = try ModelExport(source: source, referenceCount: 3).reference(count: 3)
        let second = try ModelExport(source: source, referenceCount: 3).reference(count: 3)
        #expect(first.inputShape == [3, 1, 28, 28] && first.logitsShape == [3, 10])
        #expect(first.inputs == second.inputs && first.logits == second.logits)
        #expect(first.origin.hasPrefix("pseudo-random"))
        #expect(first.inputs.allSatisfy { ModelExport.referencePixelRange.contains($0) })
    }

    /// `cnnspec export FILE.safetensors --format onnx`: the model stored in the checkpoint's metadata.
    @Test func aCheckpointAloneExportsItsStoredModel() throws {
        let folder = try ExportTestFiles.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let config = try RunConfigLoader.parse("model: \(ExportTestFiles.model("modelA"))\ndata: {dataset: mnist}\n", file: "run.yaml")
        let digits = try Dataset(name: "digits", images: [UInt8](repeating: 0, count: 10 * 784), labels: (0..<10).map(Int32.init),
                                 channels: 1, height: 28, width: 28, classNames: (0...9).map(String.init))
        let info = PredictionInfo(config: config, data: try TrainingData(trainFile: digits, test: digits, config: config.data, seed: 0))
        var weights = try ModelExport(source: try ModelSource.resolve(path: ExportTestFiles.model("modelA"))).weights
        weights["fc1.bias"]?.data = Array(repeating: 0.25, count: 10)
        let file = folder.appendingPathComponent("model.safetensors")
        try SafetensorsFile.write(tensors: weights, metadata: info.metadata, to: file)
        let source = try ModelSource.resolve(path: file.path)
        #expect(source.kind == .checkpoint && source.graph.name == "modelA" && source.checkpoint == file)
        let export = try ModelExport(source: source, referenceCount: 2)
        #expect(export.weights["fc1.bias"]?.data == Array(repeating: 0.25, count: 10))
        #expect(try export.onnx().count > 100_000)
        #expect(export.reference(count: 2).origin.hasPrefix("pseudo-random images (a checkpoint has no dataset)"))
        // A checkpoint without that metadata says what to give instead.
        try SafetensorsFile.write(tensors: weights, metadata: [:], to: file)
        let error = #expect(throws: UserError.self) { try ModelSource.resolve(path: file.path) }
        #expect(error?.description.contains("predates stored model metadata") == true)
    }
}
