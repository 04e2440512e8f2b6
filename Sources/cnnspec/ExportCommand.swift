import ArgumentParser
import CNNExport
import CNNTrain
import Foundation

/// `cnnspec export RUN_DIR|CONFIG|MODEL|CHECKPOINT --format onnx|pytorch -o FILE`: the model with its weights for
/// other tools. The work is in CNNExport; this file parses and prints.
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Export a model and its weights to ONNX or to a PyTorch module file.",
        discussion: """
            The source is a run folder (its best.safetensors, else last.safetensors), a run config, a model \
            file, or a .safetensors checkpoint alone (its metadata holds the model); without --checkpoint a \
            config or model file exports its initial weights from the seed.

              cnnspec export runs/modelA/20261123-050448 --format onnx -o modelA.onnx
              cnnspec export configs/modelA.yaml --checkpoint best.safetensors \\
                --format pytorch -o modelA.py
              cnnspec export best.safetensors --format onnx -o modelA.onnx

            --reference N also writes N reference images and cnnspec's logits for them as .npy files beside \
            the output (model.reference-inputs.npy, model.reference-logits.npy): the config's first test \
            images, or pseudo-random images for a model file or checkpoint. See docs/export.md.
            """)

    @Argument(help: "Run folder, run config (YAML), model file (YAML) or .safetensors checkpoint.")
    var source: String

    @Option(help: "Safetensors checkpoint to export (default: a run folder's best, else last; none for a config or model).")
    var checkpoint: String?

    @Option(help: "onnx or pytorch.")
    var format: String

    @Option(name: [.customShort("o"), .customLong("output")], help: "The file to write (model.onnx, model.py).")
    var output: String

    @Option(help: "ONNX opset (\(ONNXExporter.supportedOpsets.lowerBound)–\(ONNXExporter.supportedOpsets.upperBound)).")
    var opset: Int = ONNXExporter.defaultOpset

    @Option(help: "Also write N reference inputs and cnnspec's logits for them (.npy) beside the output.")
    var reference: Int = 0

    @Option(name: .customLong("save-weights"), help: "Also write the exported weights as safetensors (e.g. the initial weights of an untrained model).")
    var saveWeights: String?

    /// More reference images than this would make the plan's buffers needlessly large for a check.
    static let maximumReference = 256

    func validate() throws {
        guard ["onnx", "pytorch"].contains(format) else { throw ValidationError("--format must be onnx or pytorch, got '\(format)'") }
        guard ONNXExporter.supportedOpsets.contains(opset) else {
            throw ValidationError("--opset must be between \(ONNXExporter.supportedOpsets.lowerBound) and \(ONNXExporter.supportedOpsets.upperBound), got \(opset)")
        }
        guard (0...Self.maximumReference).contains(reference) else {
            throw ValidationError("--reference must be between 0 and \(Self.maximumReference), got \(reference)")
        }
    }

    func run() throws {
        try reportingUserErrors {
            let exportSource = try ModelSource.resolve(path: source, checkpoint: checkpoint)
            let export = try ModelExport(source: exportSource, referenceCount: reference)
            let url = URL(fileURLWithPath: output)
            if format == "onnx" {
                let data = try export.onnx(opset: opset)
                try AtomicFile.write(data, to: url)
                print("wrote \(output): ONNX opset \(opset), \(exportSource.graph.name), \(export.weightsOrigin), "
                    + String(format: "%.1f MiB", Double(data.count) / 1_048_576))
            } else {
                try AtomicFile.write(try export.pytorch(), to: url)
                print("wrote \(output): PyTorch module Model for \(exportSource.graph.name) (weights: \(export.weightsOrigin))")
            }
            if let saveWeights {
                try SafetensorsFile.write(tensors: export.weights, metadata: ["exported_by": "cnnspec export"],
                                          to: URL(fileURLWithPath: saveWeights))
                print("wrote \(saveWeights): the exported weights")
            }
            if reference > 0 {
                let batch = export.reference(count: reference)
                let files = ModelExport.referenceFiles(beside: url)
                try NPYFile.write(batch.inputs, shape: batch.inputShape, to: files.inputs)
                try NPYFile.write(batch.logits, shape: batch.logitsShape, to: files.logits)
                print("wrote \(files.inputs.path) and \(files.logits.path): \(batch.origin)")
            }
        }
    }
}
