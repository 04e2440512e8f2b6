import Testing
@testable import CNNSpec

private let fullConfig = """
name: sweep-a
model: ../models/modelA.yaml
data:
  dataset: fashion-mnist
  root: /tmp/fm
  validation_split: 0.2
  split_seed: 7
  train_transforms:
    - resize: [32, 32]
    - random_rotation: 25
    - horizontal_flip
    - scale
    - normalize: {mean: [0.2860], std: [0.3530]}
  eval_transforms:
    - resize: 32
    - scale
    - normalize: auto
train:
  batch_size: 100
  iterations: 3000
  optimizer: {name: sgd, lr: 0.1, momentum: 0.9, nesterov: true, weight_decay: 5e-4}
  schedule: {name: step, step_size: 10, gamma: 0.1, warmup_iterations: 50}
  eval_every_iterations: 500
  eval_every_epoch: false
  seed: 1234
  threads: 2
  backend: im2col
  layer_backends: {cnn1: direct, cnn2: toeplitz}
output:
  dir: runs/x
  checkpoint: {best: false, last: true, every_epochs: 2}
"""

@Test func fullConfigParsesEveryKey() throws {
    let config = try RunConfigLoader.parse(fullConfig, file: "/work/configs/a.yaml")
    #expect(config.name == "sweep-a")
    #expect(config.modelPath == "/work/models/modelA.yaml")
    #expect(config.data.dataset == .fashionMNIST)
    #expect(config.data.root == "/tmp/fm")
    #expect(config.data.validationSplit == 0.2)
    #expect(config.data.splitSeed == 7)
    #expect(config.data.trainTransforms == [.resize(height: 32, width: 32), .randomRotation(degrees: 25),
                                            .horizontalFlip(probability: 0.5), .scale,
                                            .normalize(.fixed(mean: [0.286], std: [0.353]))])
    #expect(config.data.evalTransforms == [.resizeShorter(size: 32), .scale, .normalize(.auto)])
    #expect(config.train.batchSize == 100)
    #expect(config.train.evalBatchSize == 100)
    #expect(config.train.length == .iterations(3000))
    #expect(config.train.optimizer.name == .sgd)
    #expect(config.train.optimizer.learningRate == 0.1)
    #expect(config.train.optimizer.momentum == 0.9)
    #expect(config.train.optimizer.nesterov)
    #expect(config.train.optimizer.weightDecay == 5e-4)
    #expect(config.train.schedule == ScheduleConfig(name: .step, stepSize: 10, gamma: 0.1, warmup: .iterations(50)))
    #expect(config.train.evalEveryIterations == 500)
    #expect(!config.train.evalEveryEpoch)
    #expect(config.train.seed == 1234)
    #expect(config.train.threads == 2)
    #expect(config.train.backend == .fixed(.im2col))
    #expect(config.train.layerBackends == [LayerBackend(layer: "cnn1", backend: .fixed(.direct)),
                                           LayerBackend(layer: "cnn2", backend: .fixed(.toeplitz))])
    #expect(config.train.layerBackends.first?.location?.line == 28)
    #expect(config.output.directory == "runs/x")
    #expect(config.output.checkpoint == CheckpointPolicy(best: false, last: true, everyEpochs: 2))
}

@Test func minimalConfigGetsDefaults() throws {
    let config = try RunConfigLoader.parse("model: m.yaml\n", file: "configs/run1.yaml")
    #expect(config.name == "run1")
    #expect(config.modelPath.hasSuffix("/configs/m.yaml"))
    #expect(config.data.dataset == .mnist)
    #expect(config.data.root == nil)
    #expect(config.data.validationSplit == 0.1)
    #expect(config.data.trainTransforms == [.scale])
    #expect(config.data.evalTransforms == [.scale])
    #expect(config.train.length == .epochs(10))
    #expect(config.train.optimizer == OptimizerConfig(name: .sgd, learningRate: 0.01))
    #expect(config.train.schedule.name == .constant)
    #expect(config.train.backend == .auto)
    #expect(config.output.checkpoint == CheckpointPolicy())
}

@Test func evalTransformsDefaultToTheDeterministicTrainSteps() throws {
    let text = "model: m.yaml\ndata:\n  train_transforms: [random_rotation: 10, resize: 32, scale]\n"
    let config = try RunConfigLoader.parse(text, file: "c.yaml")
    #expect(config.data.evalTransforms == [.resizeShorter(size: 32), .scale])
}

@Test func adamDefaultsFollowPyTorch() throws {
    let adam = try RunConfigLoader.parse("model: m.yaml\ntrain: {optimizer: {name: adam}}\n", file: "c.yaml")
    #expect(adam.train.optimizer.learningRate == 0.001)
    #expect(adam.train.optimizer.betas == (0.9, 0.999))
    #expect(adam.train.optimizer.eps == 1e-8)
    #expect(adam.train.optimizer.weightDecay == 0)
    let adamw = try RunConfigLoader.parse("model: m.yaml\ntrain: {optimizer: {name: adamw, betas: [0.8, 0.99]}}\n",
                                          file: "c.yaml")
    #expect(adamw.train.optimizer.weightDecay == 0.01)
    #expect(adamw.train.optimizer.beta1 == 0.8)
}

@Test func resolvedYAMLReadsBackToTheSameConfig() throws {
    let config = try RunConfigLoader.parse(fullConfig, file: "/work/configs/a.yaml")
    let again = try RunConfigLoader.parse(config.yamlText, file: "/elsewhere/resolved.yaml")
    #expect(again.yamlText == config.yamlText)
    #expect(again.train == config.train)
    #expect(again.data == config.data)
    #expect(again.hash == config.hash)
    #expect(config.hash.count == 16)
    let other = try RunConfigLoader.parse(fullConfig, file: "/work/configs/a.yaml", overrides: ["train.seed=1"])
    #expect(other.hash != config.hash)
}
