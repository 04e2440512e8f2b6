import CNNSpec
import Foundation
import Testing
@testable import CNNTrain

/// A config's `model.args`, `train.freeze` / `train.init.exclude` patterns and the class count, checked
/// against the model before any data is decoded.
@Suite struct ModelArgumentsExperimentTests {
    static let model = """
        name: tiny
        args: {classes: 10}
        input: [1, 8, 8]
        layers:
          - conv: {out: 4, kernel: 3, padding: same, name: conv1}
          - relu
          - conv: {out: 4, kernel: 3, padding: same, name: conv2}
          - flatten
          - linear: {out: $classes, name: fc1}
        """

    /// A folder dataset whose three class folders hold files that are not pictures: decoding them fails,
    /// so an error about the class count proves nothing was decoded.
    static func project(config extra: String, model: String = ModelArgumentsExperimentTests.model) throws -> (URL, String) {
        let folder = TrainingTestSupport.temporaryFolder()
        for split in ["train", "test"] {
            for name in ["ant", "bee", "cat"] {
                let classFolder = folder.appendingPathComponent("data/\(split)/\(name)")
                try FileManager.default.createDirectory(at: classFolder, withIntermediateDirectories: true)
                try Data("not a picture".utf8).write(to: classFolder.appendingPathComponent("1.png"))
            }
        }
        try model.write(to: folder.appendingPathComponent("model.yaml"), atomically: true, encoding: .utf8)
        let config = folder.appendingPathComponent("config.yaml").path
        try """
            model: model.yaml
            data: {dataset: folder, root: \(folder.appendingPathComponent("data").path), validation_split: 0}
            train: {batch_size: 4, iterations: 1, threads: 1, backend: direct\(extra)}
            """.write(toFile: config, atomically: true, encoding: .utf8)
        return (folder, config)
    }

    @Test func theClassCountIsCheckedBeforeDecodingAndNamesTheArgument() throws {
        let (folder, config) = try Self.project(config: "")
        defer { try? FileManager.default.removeItem(at: folder) }
        let text = SessionTestProject.errorText { _ = try Experiment(configPath: config).loadData() }
        #expect(text.hasPrefix("\(config):1:8: error: folder has 3 classes but the model's last layer gives 10 outputs"), "\(text)")
        #expect(text.contains("--set model.args.classes=3"))
        // With the argument, the class count fits and decoding starts (and finds the files are no pictures).
        let decoded = SessionTestProject.errorText {
            _ = try Experiment(configPath: config, overrides: ["model.args.classes=3"]).loadData()
        }
        #expect(!decoded.contains("classes but") && decoded.contains("1.png"), "\(decoded)")
        // A model without args is told how to declare one.
        let plain = Self.model.replacingOccurrences(of: "args: {classes: 10}\n", with: "").replacingOccurrences(of: "$classes", with: "10")
        let (other, otherConfig) = try Self.project(config: "", model: plain)
        defer { try? FileManager.default.removeItem(at: other) }
        let hint = SessionTestProject.errorText { _ = try Experiment(configPath: otherConfig).loadData() }
        #expect(hint.contains("make the last layer `out: 3`, or declare `args: {classes: 10}`"), "\(hint)")
    }

    @Test func freezeAndExcludePatternsThatMatchNothingAreLocated() throws {
        let (folder, config) = try Self.project(config: ", freeze: ['conv*', 'fc[0-9]', 'nothing.*'], init: {checkpoint: x.pth, exclude: [fc9]}")
        defer { try? FileManager.default.removeItem(at: folder) }
        let error = #expect(throws: SpecError.self) { try Experiment(configPath: config) }
        let diagnostics = error?.diagnostics ?? []
        #expect(diagnostics.count == 2, "\(diagnostics)")
        #expect(diagnostics.first?.message == "train.freeze[2]: 'nothing.*' matches no layer with parameters of tiny")
        #expect(diagnostics.first?.location?.line == 3 && diagnostics.first?.location?.file == config)
        #expect(diagnostics.first?.hint?.contains("layers with parameters: conv1, conv2, fc1") == true)
        #expect(diagnostics.last?.message == "train.init.exclude[0]: 'fc9' matches no layer or tensor of tiny")
        #expect(diagnostics.last?.hint?.hasPrefix("did you mean 'fc1'?") == true)
        // Globs that match: the plan skips the frozen layers' backward work and the optimizer keeps them.
        let (good, goodConfig) = try Self.project(config: ", freeze: ['conv*']")
        defer { try? FileManager.default.removeItem(at: good) }
        let experiment = try Experiment(configPath: goodConfig, overrides: ["model.args.classes=3"])
        let plan = try experiment.makeTrainingPlan()
        let frozen = try FrozenParameters(layers: experiment.config.train.freeze, store: plan.parameters)
        #expect(frozen.tensorNames == ["conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias"])
    }
}
