import ArgumentParser
import CNNSpec
import CNNTrain
import Foundation

/// `cnnspec eval CONFIG --checkpoint FILE`: test-set loss and accuracy of saved weights.
struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Evaluate a checkpoint on the test set (or the validation split).",
        discussion: """
            Eval transforms can be overridden, e.g. the rotated test set of the Fashion-MNIST tutorial:

              cnnspec eval configs/lenet-fashion.yaml --checkpoint best.safetensors \\
                --set 'data.eval_transforms=[random_rotation: 25, scale, normalize: auto]'

            A note is printed when the config differs from the one the checkpoint was trained with \
            (the run folder's config.yaml is that one).
            """)

    @Argument(help: "A run folder (its config.yaml and best.safetensors, else last.safetensors), or the run config (YAML) the checkpoint was trained with.")
    var config: String

    @Option(help: "Checkpoint: safetensors (best.safetensors, last.safetensors, …) or a PyTorch torch.save state_dict (.pth); a run folder's own by default.")
    var checkpoint: String?

    @Option(help: "The entry of a PyTorch checkpoint dict that holds the state_dict (default: the dict itself, else 'state_dict', 'model_state_dict' or 'model').")
    var checkpointKey: String?

    @Option(name: .customLong("set"), help: ArgumentHelp("Override a config key.", valueName: "key.path=value"))
    var overrides: [String] = []

    @Option(help: "Which images: test or validation.")
    var split: String = "test"

    func validate() throws {
        guard EvaluationSplit(rawValue: split) != nil else { throw ValidationError("--split must be \(EvaluationSplit.listed)") }
    }

    func run() throws {
        try reportingUserErrors {
            let (configPath, checkpoint) = try CheckpointEvaluation.inputs(path: config, checkpoint: checkpoint)
            let setup = try Experiment(configPath: configPath, overrides: overrides)
            let evaluation = try CheckpointEvaluation(experiment: setup, checkpoint: checkpoint, key: checkpointKey)
            if let mismatch = evaluation.configMismatch {
                print("note: this config (with its --set overrides) differs from the one the checkpoint was trained with "
                    + "(config hash \(mismatch.configHash), trained with \(mismatch.trainedHash)); the run folder's config.yaml is that one")
            }
            // invariant: validate() accepted only the split names
            let result = try evaluation.evaluate(EvaluationSplit(rawValue: split)!)
            print(String(format: "%@: loss %.4f, accuracy %.2f%% (%d images, %@)", split, result.loss, result.accuracy * 100,
                         result.images, checkpoint))
            print("")
            print(result.metrics.reportText)
            print("")
            print("confusion matrix (rows: true class, columns: predicted class)")
            print(result.metrics.confusionText)
        }
    }
}
