import CNNExport
import CNNLayers
import CNNSpec
import CNNTrain
import Foundation
import Testing

/// The repository's folders, found from this file.
enum ExportTestFiles {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let kindsModels = ["kinds-a", "kinds-b"].map { root.appendingPathComponent("scripts/export-check-models/\($0).yaml").path }
    static func model(_ name: String) -> String { root.appendingPathComponent("models/\(name).yaml").path }

    /// A folder of its own under the system's temporary folder.
    static func temporaryFolder() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("cnnspec-export-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

/// Every kind has an export mapping (`ExecutableOperation` refines `ExportableOperation`, so that is
/// checked by the compiler) and is exercised by the all-kinds models that scripts/check-onnx runs
/// through onnxruntime and PyTorch — a new kind fails here until it is added to one of them.
@Suite struct ExportCatalogTests {
    @Test func everyCatalogKindIsInTheAllKindsExportModels() throws {
        var exercised: Set<String> = []
        for path in ExportTestFiles.kindsModels {
            let graph = try ModelSpecLoader.load(path: path, catalog: .standard)
            for node in graph.nodes.dropFirst() {
                #expect(node.op is any ExportableOperation, "\(node.name): \(node.op.kindName)")
                exercised.insert(node.op.kindName)
            }
        }
        let missing = LayerCatalog.standard.names.filter { !exercised.contains($0) }
        #expect(missing.isEmpty, "add these kinds to scripts/export-check-models/: \(missing)")
    }

    @Test func theAllKindsModelsExportToBothFormats() throws {
        for path in ExportTestFiles.kindsModels {
            let graph = try ModelSpecLoader.load(path: path, catalog: .standard)
            let export = try ModelExport(source: ModelSource(path: path, graph: graph, modelFile: path))
            for opset in ONNXExporter.supportedOpsets {
                let model = try ONNXExporter.model(for: graph, weights: export.weights, opset: opset)
                #expect(model.graph.node.count >= graph.nodes.count - 1)
            }
            let python = try export.pytorch()
            for node in graph.nodes.dropFirst() {
                #expect(python.contains("= ") && python.contains(node.name.replacingOccurrences(of: ".", with: "_")))
            }
        }
    }
}
