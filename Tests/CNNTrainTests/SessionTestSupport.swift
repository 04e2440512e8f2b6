import CNNSpec
import Foundation
@testable import CNNTrain

/// A throw-away project for the session tests: 8×8 IDX files in MNIST's layout (64 training and 16 test
/// images of 10 classes), a model file and a run config, in a fresh temporary folder.
struct SessionTestProject {
    /// Two 3×3 convolutions with ReLUs and a classifier: enough for per-layer backends and fusion.
    static let tinyModel = """
        name: tiny
        input: [1, 8, 8]
        layers:
          - conv: {out: 4, kernel: 3, padding: same, name: conv1}
          - relu: {name: relu1}
          - conv: {out: 4, kernel: 3, padding: same, name: conv2}
          - relu: {name: relu2}
          - flatten
          - linear: {out: 10, name: fc1}
        """

    let folder: URL
    let configPath: String

    /// `train` is the body of the config's `train:` mapping (YAML flow entries, without braces), `data`
    /// extra entries of its `data:` mapping.
    init(model: String = SessionTestProject.tinyModel, train: String = "", data: String = "validation_split: 0") throws {
        folder = TrainingTestSupport.temporaryFolder()
        let root = folder.appendingPathComponent("data")
        try DataTestFolder.writeTinyMNIST(into: root)
        try model.write(to: folder.appendingPathComponent("model.yaml"), atomically: true, encoding: .utf8)
        // Defaults for the keys `train` does not set itself.
        let defaults = ["batch_size: 8", "iterations: 4", "threads: 1", "backend: direct", "optimizer: {name: sgd, lr: 0.01}"]
        let trainEntries = defaults.filter { !(" " + train).contains(" " + $0.prefix { $0 != " " }) } + (train.isEmpty ? [] : [train])
        let config = """
            name: tiny
            model: model.yaml
            data: {dataset: mnist, root: \(root.path), \(data)}
            train: {\(trainEntries.joined(separator: ", "))}
            output: {dir: \(folder.appendingPathComponent("run").path)}
            """
        configPath = folder.appendingPathComponent("config.yaml").path
        try config.write(toFile: configPath, atomically: true, encoding: .utf8)
    }

    func remove() { try? FileManager.default.removeItem(at: folder) }

    /// The text of the error `body` throws ("" when it throws none).
    static func errorText(_ body: () throws -> Void) -> String {
        do { try body(); return "" } catch { return "\(error)" }
    }
}
