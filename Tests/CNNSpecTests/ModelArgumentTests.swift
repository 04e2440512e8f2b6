import Foundation
import Testing
@testable import CNNSpec

/// A model file's top-level `args:` (bound like a block's), `model: {file:, args:}` and `--set model.args.*`,
/// and the layer patterns of `train.freeze` / `train.init.exclude`.
struct ModelArgumentTests {
    static let model = """
        name: small
        args: {classes: 10, width: 4, size: 8}
        input: [1, $size, $size]
        blocks:
          unit:
            args: {width: ~}
            layers:
              - conv: {out: $width, kernel: 3, padding: same, name: conv}
              - relu
        layers:
          - unit: {width: $width, name: a}
          - unit: {width: 2, name: b}
          - flatten
          - linear: {out: $classes, name: fc}
        """

    static func diagnostics(_ body: () throws -> Void) -> [Diagnostic] {
        do { try body(); return [] } catch let error as SpecError { return error.diagnostics } catch { return [Diagnostic("\(error)", at: nil)] }
    }

    @Test func defaultsApplyWhenNoArgumentsAreGiven() throws {
        let graph = try ModelSpecLoader.load(yaml: Self.model, catalog: .standard)
        #expect(graph.outputShape.dimensions == [10])
        #expect(graph.inputShape.dimensions == [1, 8, 8])
        #expect(graph.nodes.first { $0.name == "a.conv" }?.outputShape.dimensions == [4, 8, 8])
        // The block's own argument shadows the model's `width` inside the block.
        #expect(graph.nodes.first { $0.name == "b.conv" }?.outputShape.dimensions == [2, 8, 8])
    }

    @Test func givenArgumentsReplaceTheDefaults() throws {
        let arguments = try ModelArgument.parse(flowText: "{classes: 5, size: 12}", origin: "test")
        let graph = try ModelSpecLoader.load(yaml: Self.model, catalog: .standard, arguments: arguments)
        #expect(graph.outputShape.dimensions == [5])
        #expect(graph.inputShape.dimensions == [1, 12, 12])
    }

    @Test func anUnknownArgumentIsLocatedWhereItWasGivenWithADidYouMean() throws {
        let arguments = try ModelArgument.parse(flowText: "{clases: 5}", origin: "run.yaml")
        let found = Self.diagnostics { _ = try ModelSpecLoader.load(yaml: Self.model, file: "small.yaml", catalog: .standard, arguments: arguments) }
        #expect(found.count == 1)
        #expect(found.first?.message == "unknown argument 'clases' for model 'small'")
        #expect(found.first?.location?.file == "run.yaml")
        #expect(found.first?.hint?.hasPrefix("did you mean 'classes'?") == true)
    }

    @Test func aValueTheModelCannotUseIsReportedInTheConfig() throws {
        let arguments = try ModelArgument.parse(flowText: "{classes: many}", origin: "run.yaml")
        let found = Self.diagnostics { _ = try ModelSpecLoader.load(yaml: Self.model, file: "small.yaml", catalog: .standard, arguments: arguments) }
        #expect(found.contains { $0.location?.file == "run.yaml" && $0.message.contains("'many'") }, "\(found)")
    }

    @Test func aRequiredArgumentMustBeGiven() throws {
        let yaml = Self.model.replacingOccurrences(of: "args: {classes: 10,", with: "args: {classes: ~,")
        let found = Self.diagnostics { _ = try ModelSpecLoader.load(yaml: yaml, file: "small.yaml", catalog: .standard) }
        #expect(found.map { $0.message } == ["model 'small' needs argument 'classes'"])
        #expect(try ModelSpecLoader.load(yaml: yaml, catalog: .standard,
                                         arguments: ModelArgument.parse(flowText: "{classes: 3}", origin: "t")).outputShape.dimensions == [3])
    }

    @Test func anUndeclaredReferenceIsAnErrorAtItsLine() {
        let yaml = Self.model.replacingOccurrences(of: "out: $classes", with: "out: $clases")
        let found = Self.diagnostics { _ = try ModelSpecLoader.load(yaml: yaml, file: "small.yaml", catalog: .standard) }
        #expect(found.first?.message == "'$clases' is not an argument of model 'small'")
        #expect(found.first?.location?.line == 14)
        #expect(found.first?.hint?.hasPrefix("did you mean '$classes'?") == true)
        let block = Self.model.replacingOccurrences(of: "out: $width, kernel", with: "out: $widht, kernel")
        let inBlock = Self.diagnostics { _ = try ModelSpecLoader.load(yaml: block, file: "small.yaml", catalog: .standard) }
        #expect(inBlock.contains { $0.message == "'$widht' is not an argument of block 'unit'" && $0.location?.line == 8 }, "\(inBlock)")
    }

    @Test func aModelWithoutArgsRefusesArguments() throws {
        let yaml = "input: [1, 4, 4]\nlayers:\n  - flatten\n  - linear: 3\n"
        let arguments = try ModelArgument.parse(flowText: "{classes: 5}", origin: "run.yaml")
        let found = Self.diagnostics { _ = try ModelSpecLoader.load(yaml: yaml, file: "plain.yaml", catalog: .standard, arguments: arguments) }
        #expect(found.first?.message == "unknown argument 'classes' for model 'plain'")
        #expect(found.first?.hint == "model 'plain' declares no args")
    }

    @Test func configsPassArgumentsAndWriteThemBack() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("cnnspec-model-args-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try Self.model.write(to: folder.appendingPathComponent("small.yaml"), atomically: true, encoding: .utf8)
        let configPath = folder.appendingPathComponent("run.yaml").path
        try "model: {file: small.yaml, args: {classes: 5}}\n".write(toFile: configPath, atomically: true, encoding: .utf8)
        let config = try RunConfigLoader.load(path: configPath)
        #expect(config.modelArguments.map { $0.name } == ["classes"] && config.modelArguments.first?.valueText == "5")
        #expect(try ModelSpecLoader.load(config: config, catalog: .standard).outputShape.dimensions == [5])
        // The resolved config keeps the arguments, and reads back the same.
        #expect(config.yamlText.contains("model: {file: \"\(folder.appendingPathComponent("small.yaml").path)\", args: {classes: 5}}"))
        let reread = try RunConfigLoader.parse(config.yamlText, file: configPath)
        #expect(reread.modelArguments == config.modelArguments)

        // --set extends a plain `model: FILE`, and overrides a given value.
        try "model: small.yaml\n".write(toFile: configPath, atomically: true, encoding: .utf8)
        let set = try RunConfigLoader.load(path: configPath, overrides: ["model.args.classes=7", "model.args.size=16"])
        let graph = try ModelSpecLoader.load(config: set, catalog: .standard)
        #expect(graph.outputShape.dimensions == [7] && graph.inputShape.dimensions == [1, 16, 16])
        #expect(set.modelArguments.first?.location?.file == "--set model.args.classes")
        // Without arguments the resolved config writes the plain path, as before (same config hash).
        let plain = try RunConfigLoader.load(path: configPath)
        #expect(plain.yamlText.contains("model: \"\(folder.appendingPathComponent("small.yaml").path)\"\n"))
        // An unknown key of the model mapping.
        try "model: {file: small.yaml, arg: {classes: 5}}\n".write(toFile: configPath, atomically: true, encoding: .utf8)
        let found = Self.diagnostics { _ = try RunConfigLoader.load(path: configPath) }
        #expect(found.contains { $0.message.contains("unknown key 'arg'") && $0.hint?.contains("did you mean 'args'?") == true }, "\(found)")
    }

    @Test func zooModelsDeclareClasses() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let path = root.appendingPathComponent("models/mobilenet_v2.yaml").path
        let standard = try ModelSpecLoader.load(path: path, catalog: .standard)
        #expect(standard.totalParameters == 3_504_872)
        let five = try ModelSpecLoader.load(path: path, catalog: .standard,
                                            arguments: ModelArgument.parse(flowText: "{classes: 5}", origin: "t"))
        #expect(five.outputShape.dimensions == [5])
        #expect(five.totalParameters == 3_504_872 - 995 * 1280 - 995)
        let models = try FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("models").path)
            .filter { $0.hasSuffix(".yaml") && $0 != "inception-module.yaml" }
        #expect(models.count > 20)
        for model in models {
            let document = try YAMLParser.parse(contentsOf: root.appendingPathComponent("models/" + model).path)
            #expect(document["args"]?["classes"] != nil, "\(model) declares classes")
        }
    }

    @Test func layerPatternsTakeNamesPrefixesAndGlobs() {
        #expect(LayerPattern.matches("fc.weight", "fc"))
        #expect(LayerPattern.matches("fc.weight", "fc.weight"))
        #expect(!LayerPattern.matches("fc1.weight", "fc"))
        #expect(LayerPattern.matches("layer1.0.conv1.weight", "layer1"))
        #expect(LayerPattern.matches("features.0.0.weight", "features.*"))
        #expect(!LayerPattern.matches("classifier.1.weight", "features.*"))
        #expect(LayerPattern.matches("conv1.weight", "conv*"))
        #expect(!LayerPattern.matches("fc1.weight", "conv*"))
        #expect(LayerPattern.matches("layer2.1.bn1.bias", "layer[12].*"))
        #expect(!LayerPattern.matches("layer3.1.bn1.bias", "layer[12].*"))
        #expect(!LayerPattern.matches("layer1.1.bn1.bias", "layer[!1].*"))
        #expect(LayerPattern.matches("cnn2.bias", "cnn?"))
        #expect(LayerPattern.matches("a.b.weight", "*.weight") && !LayerPattern.matches("a.b.bias", "*.weight"))
        #expect(LayerPattern.matches("x[", "x[") && !LayerPattern.matches("", "?"))
    }

    @Test func patternsThatMatchNothingAreLocated() throws {
        let graph = try ModelSpecLoader.load(yaml: Self.model, catalog: .standard)
        var locations = KeyLocations()
        locations["train.freeze[1]"] = SourceLocation(file: "run.yaml", line: 9, column: 12)
        let found = LayerPattern.problems(["a.*", "conv*"], key: "train.freeze", graph: graph, trainableOnly: true, locations: locations)
        #expect(found.count == 1)
        #expect(found.first?.message == "train.freeze[1]: 'conv*' matches no layer with parameters of small")
        #expect(found.first?.location?.line == 9)
        #expect(found.first?.hint?.contains("a.conv, b.conv, fc") == true)
    }
}
