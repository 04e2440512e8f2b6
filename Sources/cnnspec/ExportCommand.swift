import ArgumentParser
import CNNExport
import CNNTrain
import Foundation

/// `cnnspec export RUN_DIR|CONFIG|MODEL|CHECKPOINT --format onnx|pytorch -o FILE`: the model with its weights for
/// other tools. The work is in CNNExport; this file parses and prints.
extension ExportFormat: ExpressibleByArgument {}

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

    @Option(help: "Checkpoint to export: safetensors or a PyTorch torch.save state_dict (.pth) (default: a run folder's best, else last; none for a config or model).")
    var checkpoint: String?

    @Option(help: "The entry of a PyTorch checkpoint dict that holds the state_dict (default: the dict itself, else 'state_dict', 'model_state_dict' or 'model').")
    var checkpointKey: String?

    @Option(help: "\(ExportFormat.allCases.map(\.rawValue).joined(separator: " or ")).")
    var format: ExportFormat

    @Option(name: [.customShort("o"), .customLong("output")], help: "The file to write (model.onnx, model.py).")
    var output: String

    @Option(help: "ONNX opset (\(ONNXExporter.supportedOpsets.lowerBound)–\(ONNXExporter.supportedOpsets.upperBound)).")
    var opset: Int = ONNXExporter.defaultOpset

    @Option(help: "Also write N reference inputs and cnnspec's logits for them (.npy) beside the output.")
    var reference: Int = 0

    @Option(name: .customLong("save-weights"), help: "Also write the exported weights as safetensors (e.g. the initial weights of an untrained model).")
    var saveWeights: String?

    func validate() throws {
        guard ONNXExporter.supportedOpsets.contains(opset) else {
            throw ValidationError("--opset must be between \(ONNXExporter.supportedOpsets.lowerBound) and \(ONNXExporter.supportedOpsets.upperBound), got \(opset)")
        }
        guard (0...ModelExport.maximumReferenceCount).contains(reference) else {
            throw ValidationError("--reference must be between 0 and \(ModelExport.maximumReferenceCount), got \(reference)")
        }
    }

    func run() throws {
        try reportingUserErrors {
            let exportSource = try ModelSource.resolve(path: source, checkpoint: checkpoint, checkpointKey: checkpointKey)
            let export = try ModelExport(source: exportSource, referenceCount: reference)
            let url = URL(fileURLWithPath: output)
            print(try export.write(format, to: url, opset: opset))
            if let saveWeights { print(try export.writeWeights(to: URL(fileURLWithPath: saveWeights))) }
            if reference > 0 { print(try export.writeReference(count: reference, beside: url)) }
        }
    }
}
