import Foundation
import Testing
import CNNLayers
@testable import CNNSpec

@Suite struct ShapeReportTests {
    private func modelAReport() throws -> ShapeReport {
        let path = SpecTestSupport.modelPath("modelA.yaml")
        return ShapeReport(graph: try ModelSpecLoader.load(path: path, catalog: .standard), file: "models/modelA.yaml")
    }

    @Test func jsonIsParseableAndComplete() throws {
        let report = try modelAReport()
        let data = Data(report.render(.json).utf8)
        let root = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(root["format"] as? String == "cnnspec-shapes/1")
        #expect(root["model"] as? String == "modelA")
        #expect(root["input"] as? [Int] == [1, 28, 28])
        #expect(root["output"] as? [Int] == [10])
        let layers = try #require(root["layers"] as? [[String: Any]])
        #expect(layers.count == report.graph.nodes.count)
        let cnn1 = layers[1]
        #expect(cnn1["name"] as? String == "cnn1" && cnn1["kind"] as? String == "conv2d")
        #expect(cnn1["kernel"] as? [Int] == [5, 5] && cnn1["padding"] as? [Int] == [2, 2] && cnn1["stride"] as? [Int] == [1, 1])
        #expect(cnn1["output"] as? [Int] == [16, 28, 28] && cnn1["parameters"] as? Int == 416)
        #expect(cnn1["inputs"] as? [String] == ["input"] && cnn1["line"] as? Int == 8)
        let totals = try #require(root["totals"] as? [String: Int])
        #expect(totals["parameters"] == 28_938)
        #expect(totals["parameter_bytes"] == 28_938 * 4)
        #expect(totals["macs"] == report.graph.totalMACs)
        let activations = report.graph.nodes.map(\.outputShape.elementCount).reduce(0, +) * 4
        #expect(totals["activation_bytes"] == activations)
    }

    @Test func tableListsEveryLayerAndTotals() throws {
        let text = try modelAReport().render(.table)
        for expected in ["cnn1", "k5 s1 p2", "16×28×28", "32×7×7", "1568", "15,690", "parameters: 28,938", "MACs per image: 2,838,080"] {
            #expect(text.contains(expected), "missing \(expected)")
        }
    }

    @Test func markdownIsATable() throws {
        let lines = try modelAReport().render(.markdown).split(separator: "\n")
        let rows = lines.filter { $0.hasPrefix("|") }
        #expect(rows.count == 2 + 9)
        #expect(rows.allSatisfy { $0.filter { $0 == "|" }.count == 8 })
    }

    @Test func jsonStringsAreEscaped() {
        #expect(JSONText.quoted("a\"b\\c\n\u{1}") == "\"a\\\"b\\\\c\\n\\u0001\"")
        #expect(ShapeReport.grouped(138_357_544) == "138,357,544" && ShapeReport.grouped(0) == "0")
    }

    @Test func configNamesItsModel() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cnnspec-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let config = directory.appendingPathComponent("run.yaml")
        try "model: \(SpecTestSupport.modelPath("modelC.yaml"))\ntraining: {epochs: 1}\n".write(to: config, atomically: true, encoding: .utf8)
        let (graph, _) = try ModelOrConfigLoader.load(path: config.path, catalog: .standard)
        #expect(graph.totalParameters == 18_378)
        try "model: missing.yaml\n".write(to: config, atomically: true, encoding: .utf8)
        #expect { try ModelOrConfigLoader.load(path: config.path, catalog: .standard) } throws: { error in
            String(describing: error).contains("run.yaml:1:8: error: model file 'missing.yaml' not found")
        }
    }
}
