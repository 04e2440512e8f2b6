import ArgumentParser
import CNNKernels
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
              cnnspec eval configs/lenet-fashion.yaml --checkpoint runs/…/best.safetensors \\
                --set 'data.eval_transforms=[random_rotation: 25, scale, normalize: auto]'
            """)

    @Argument(help: "Run config (YAML) the checkpoint was trained with.")
    var config: String

    @Option(help: "Safetensors checkpoint (best.safetensors, last.safetensors, …).")
    var checkpoint: String

    @Option(name: .customLong("set"), help: ArgumentHelp("Override a config key.", valueName: "key.path=value"))
    var overrides: [String] = []

    @Option(help: "Which images: test or validation.")
    var split: String = "test"

    func validate() throws {
        guard ["test", "validation"].contains(split) else { throw ValidationError("--split must be test or validation") }
    }

    func run() throws {
        try reportingUserErrors {
            let setup = try RunSetup(configPath: config, overrides: overrides)
            let data = try setup.loadData()
            let train = setup.config.train
            let plan = try ExecutionPlan(graph: setup.graph, batchCapacity: train.evalBatchSize,
                                         backend: train.backend == .auto ? .fixed(.im2col) : train.backend,
                                         threads: train.threads, seed: UInt64(truncatingIfNeeded: train.seed),
                                         batchKey: "train.eval_batch_size", purpose: .inference)
            let contents = try CheckpointIO.load(into: plan.parameters, from: URL(fileURLWithPath: checkpoint))
            plan.parametersDidChange()
            if let hash = contents.metadata["config_hash"], hash != setup.config.hash {
                print("note: the checkpoint was trained with config hash \(hash); this config (with overrides) hashes to \(setup.config.hash)")
            }
            let loader: BatchLoader
            if split == "validation" {
                guard let validation = data.validationLoader(batchSize: train.evalBatchSize, seed: train.seed, threadPool: plan.pool) else {
                    throw UserError("data.validation_split is 0, so there is no validation set", file: config)
                }
                loader = validation
            } else {
                loader = data.testLoader(batchSize: train.evalBatchSize, seed: train.seed, threadPool: plan.pool)
            }
            let labels = AlignedBuffer<Int32>(count: train.evalBatchSize)
            let result = Trainer.evaluate(plan: plan, loader: loader, labels: labels)
            print(String(format: "%@: loss %.4f, accuracy %.2f%% (%d images, %@)", split, result.loss, result.accuracy * 100,
                         loader.sampleCount, checkpoint))
        }
    }
}
