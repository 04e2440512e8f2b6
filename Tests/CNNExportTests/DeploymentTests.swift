import CNNSpec
import CNNTrain
import Foundation
import SwiftProtobuf
import Testing
@testable import CNNExport

/// What an export carries for deployment (`DeploymentMetadata`) and how a run's model arguments survive
/// into its checkpoints: a checkpoint of a 3-class Model A (`args: {classes: 3}`) exports with its class
/// names, image size, eval transforms and mean/std in ONNX `metadata_props` and the PyTorch module file.
@Suite struct DeploymentTests {
    static func checkpoint(in folder: URL) throws -> URL {
        let config = try RunConfigLoader.parse("""
            model: {file: \(ExportTestFiles.model("modelA")), args: {classes: 3}}
            data:
              dataset: mnist
              train_transforms: [scale, {normalize: {mean: [0.25], std: [0.5]}}]
            """, file: "run.yaml")
        let shapes = try Dataset(name: "shapes", images: [UInt8](repeating: 7, count: 6 * 784), labels: [0, 1, 2, 0, 1, 2],
                                 channels: 1, height: 28, width: 28, classNames: ["circle", "square", "triangle"])
        let info = PredictionInfo(config: config, data: try TrainingData(trainFile: shapes, test: shapes, config: config.data, seed: 0))
        let graph = try ModelSpecLoader.load(config: config, catalog: .standard)
        #expect(graph.outputShape.dimensions == [3])
        let plan = try ExecutionPlan(graph: graph, batchCapacity: 1, backend: .fixed(.im2col), threads: 1)
        let file = folder.appendingPathComponent("best.safetensors")
        try CheckpointIO.save(plan.parameters, metadata: info.metadata, to: file)
        return file
    }

    @Test func aCheckpointKeepsItsModelArgumentsAndExportsItsMetadata() throws {
        let folder = try ExportTestFiles.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = try Self.checkpoint(in: folder)
        // The stored model is modelA.yaml's text; the stored config's model.args make it 3 classes again.
        let source = try ModelSource.resolve(path: file.path)
        #expect(source.graph.outputShape.dimensions == [3])
        #expect(source.predictionInfo?.modelArguments.map(\.name) == ["classes"])
        let export = try ModelExport(source: source)
        let metadata = export.metadata
        #expect(metadata.classNames == ["circle", "square", "triangle"])
        #expect(metadata.inputShape == [1, 28, 28] && metadata.imageShape == [1, 28, 28])
        #expect(metadata.evalTransforms == ["scale", "normalize: {mean: [0.25], std: [0.5]}"])
        #expect(metadata.mean == [0.25] && metadata.std == [0.5])

        let model = try Onnx_ModelProto(serializedBytes: try export.onnx())
        let properties = Dictionary(uniqueKeysWithValues: model.metadataProps.map { ($0.key, $0.value) })
        #expect(properties["class_names"] == "[\"circle\", \"square\", \"triangle\"]")
        #expect(properties["image_shape"] == "[1, 28, 28]" && properties["input_shape"] == "[1, 28, 28]")
        #expect(properties["mean"] == "[0.25]" && properties["std"] == "[0.5]")
        #expect(properties["eval_transforms"] == "[\"scale\", \"normalize: {mean: [0.25], std: [0.5]}\"]")
        #expect(properties["preprocessing"]?.contains("resize to 28×28 (PIL bilinear)") == true)
        #expect(Set(properties.keys) == Set(DeploymentMetadata.Key.allCases.map(\.rawValue)))

        let python = try export.pytorch()
        #expect(python.contains("    class_names = [\"circle\", \"square\", \"triangle\"]\n"))
        #expect(python.contains("    mean = [0.25]\n") && python.contains("    std = [0.5]\n"))
    }

    @Test func aModelFileExportsItsInputShapeOnly() throws {
        let export = try ModelExport(source: try ModelSource.resolve(path: ExportTestFiles.model("modelA")))
        let model = try Onnx_ModelProto(serializedBytes: try export.onnx())
        #expect(model.metadataProps.map(\.key) == ["input_shape", "preprocessing"])
        #expect(!(try export.pytorch()).contains("class_names"))
    }
}
