import CNNLayers
import Foundation
@testable import CNNSpec

/// Shared helpers for the model-spec tests.
enum SpecTestSupport {
    /// The repository's models/ folder.
    static let modelsDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("models")

    static func modelPath(_ file: String) -> String { modelsDirectory.appendingPathComponent(file).path }

    /// The diagnostics loading `yaml` produces (empty when it loads).
    static func diagnostics(_ yaml: String, file: String = "m.yaml") -> [Diagnostic] {
        do {
            _ = try ModelSpecLoader.load(yaml: yaml, file: file, catalog: .standard)
            return []
        } catch {
            return error.diagnostics
        }
    }

    /// A model with the given layer lines (each already indented as a list entry) and input.
    static func model(_ layers: [String], input: String = "[1, 28, 28]") -> String {
        "input: \(input)\nlayers:\n" + layers.map { "  - \($0)\n" }.joined()
    }
}
