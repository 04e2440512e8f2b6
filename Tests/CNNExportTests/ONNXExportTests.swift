import CNNExport
import CNNLayers
import CNNSpec
import CNNTrain
import Foundation
import SwiftProtobuf
import Testing

/// The ONNX file decodes with SwiftProtobuf and has the graph's names, shapes and weights.
@Suite struct ONNXExportTests {
    static func export(_ yaml: String) throws -> ModelExport {
        let graph = try ModelSpecLoader.load(yaml: yaml, catalog: .standard)
        return try ModelExport(source: ModelSource(path: "model.yaml", graph: graph, modelFile: "model.yaml"))
    }

    @Test func modelAParsesBackWithItsNamesShapesAndWeights() throws {
        let export = try ModelExport(source: try ModelSource.resolve(path: ExportTestFiles.model("modelA"), checkpoint: nil))
        let model = try Onnx_ModelProto(serializedBytes: try export.onnx())
        #expect(model.opsetImport.map(\.version) == [Int64(ONNXExporter.defaultOpset)])
        #expect(model.irVersion == 8)
        #expect(model.producerName == "cnnspec")
        let graph = model.graph
        #expect(graph.node.map(\.opType) == ["Conv", "Relu", "MaxPool", "Conv", "Relu", "MaxPool", "Flatten", "Gemm"])
        #expect(graph.node.map { $0.output[0] } == ["cnn1", "relu1", "maxpool1", "cnn2", "relu2", "maxpool2", "flatten1", "fc1"])
        #expect(graph.input.map(\.name) == ["input"])
        #expect(graph.output.map(\.name) == ["fc1"])
        let inputDims = graph.input[0].type.tensorType.shape.dim
        #expect(inputDims[0].dimParam == ONNXExporter.batchDimension)
        #expect(inputDims.dropFirst().map(\.dimValue) == [1, 28, 28])
        #expect(graph.output[0].type.tensorType.shape.dim.dropFirst().map(\.dimValue) == [10])
        let shapes = Dictionary(uniqueKeysWithValues: graph.initializer.map { ($0.name, $0.dims) })
        #expect(shapes == ["cnn1.weight": [16, 1, 5, 5], "cnn1.bias": [16], "cnn2.weight": [32, 16, 5, 5], "cnn2.bias": [32],
                           "fc1.weight": [10, 1568], "fc1.bias": [10]])
        let conv = graph.node[0]
        #expect(conv.input == ["input", "cnn1.weight", "cnn1.bias"])
        let attributes = Dictionary(uniqueKeysWithValues: conv.attribute.map { ($0.name, $0) })
        #expect(attributes["pads"]?.ints == [2, 2, 2, 2])
        #expect(attributes["kernel_shape"]?.ints == [5, 5])
        let weights = export.weights
        for initializer in graph.initializer {
            let values = initializer.rawData.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
            #expect(values == weights[initializer.name]?.data, "\(initializer.name)")
        }
    }

    @Test func asymmetricSamePaddingAndPaddingModes() throws {
        let export = try Self.export("""
            input: [2, 9, 9]
            layers:
              - conv: {out: 4, kernel: 4, padding: same, name: same}
              - conv: {out: 4, kernel: 3, padding: 1, padding_mode: reflect, name: reflect}
              - conv: {out: 4, kernel: 3, padding: [1, 2], padding_mode: circular, name: circular}
              - flatten
              - linear: 3
            """)
        let graph = try Onnx_ModelProto(serializedBytes: try export.onnx()).graph
        let convs = graph.node.filter { $0.opType == "Conv" }
        let pads = convs.map { $0.attribute.first { $0.name == "pads" }?.ints ?? [] }
        #expect(pads == [[1, 1, 2, 2], [0, 0, 0, 0], [0, 0, 0, 0]])
        let pad = try #require(graph.node.first { $0.opType == "Pad" })
        #expect(pad.attribute.first { $0.name == "mode" }?.s == Data("reflect".utf8))
        #expect(graph.node.filter { $0.opType == "Slice" }.count == 4)  // circular: two slices per axis
    }

    /// ONNX's ceil mode keeps a last window starting in the padding, PyTorch's drops it: floor mode
    /// with extra end padding gives PyTorch's size (16 → 9 with kernel 2, stride 2, padding 1).
    @Test func ceilModeIsFloorModeWithExtraEndPadding() throws {
        let export = try Self.export("""
            input: [1, 16, 15]
            layers:
              - maxpool: {kernel: 2, stride: 2, padding: 1, ceil_mode: true, name: mp}
              - avgpool: {kernel: 2, stride: 2, padding: 1, ceil_mode: true, name: ap}
              - flatten
              - linear: {out: 2, name: fc}
            """)
        let graph = try Onnx_ModelProto(serializedBytes: try export.onnx()).graph
        let pools = graph.node.filter { $0.opType.hasSuffix("Pool") }
        #expect(pools.allSatisfy { node in !node.attribute.contains { $0.name == "ceil_mode" } })
        // mp: 16×15 → 9×8 (a window starting in the padding dropped along height); (9−1)·2 + 2 = 18 = 16 + 2.
        #expect(pools[0].attribute.first { $0.name == "pads" }?.ints == [1, 1, 1, 1])
        // ap with count_include_pad: the written padding is a Pad node, the overhang excluded: 9×8 → 5×5.
        #expect(graph.node.contains { $0.opType == "Pad" })
        #expect(pools[1].attribute.first { $0.name == "pads" }?.ints == [0, 0, 0, 0])
        #expect(pools[1].attribute.first { $0.name == "count_include_pad" }?.i == 0)
    }

    @Test func geluIsBuiltFromErfBeforeOpset20() throws {
        let export = try Self.export("""
            input: [3, 2, 2]
            layers:
              - gelu: {name: g}
              - flatten: {name: f}
              - linear: {out: 2, name: fc}
            """)
        let old = try Onnx_ModelProto(serializedBytes: try export.onnx(opset: 17)).graph.node.map(\.opType)
        #expect(old.contains("Erf") && !old.contains("Gelu"))
        let new = try Onnx_ModelProto(serializedBytes: try export.onnx(opset: 20)).graph.node.map(\.opType)
        #expect(new == ["Gelu", "Flatten", "Gemm"])
        #expect(throws: UserError.self) { try export.onnx(opset: 16) }
    }

    @Test func dottedNamesAndMergesKeepTheirNames() throws {
        let path = ExportTestFiles.kindsModels[1]
        let export = try ModelExport(source: try ModelSource.resolve(path: path, checkpoint: nil))
        let graph = try Onnx_ModelProto(serializedBytes: try export.onnx()).graph
        let sum3 = try #require(graph.node.first { $0.output == ["block.1.sum"] })
        #expect(sum3.opType == "Sum")
        #expect(sum3.input == ["block.0.sum", "block.1.hs", "block.1.b"])
        #expect(graph.initializer.contains { $0.name == "stem.conv.weight" && $0.dims == [8, 4, 3, 3] })
        let concat = try #require(graph.node.first { $0.output == ["cat"] })
        #expect(concat.input == ["sp", "mi"])
        let names = graph.node.flatMap(\.output) + graph.initializer.map(\.name)
        #expect(Set(names).count == names.count, "tensor names are unique")
    }
}
