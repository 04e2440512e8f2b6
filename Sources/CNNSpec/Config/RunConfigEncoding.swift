import Foundation

extension RunConfig {
    /// The resolved config as YAML with every default written out, in a fixed key order.
    /// `RunConfigLoader.parse(yamlText, …)` reads it back to an equal config (model path is absolute).
    public var yamlText: String {
        var lines = ["# cnnspec \(name): resolved run config (every default filled in)"]
        lines.append("name: \(JSONText.quoted(name))")
        lines.append("model: \(JSONText.quoted(modelPath))")
        lines.append("data:")
        lines.append("  dataset: \(data.dataset.rawValue)")
        lines.append("  root: \(data.root.map(JSONText.quoted) ?? "null")")
        lines.append("  validation_split: \(number(data.validationSplit))")
        lines.append("  split_seed: \(data.splitSeed.map { "\($0)" } ?? "null")")
        for (key, list) in [("train_transforms", data.trainTransforms), ("eval_transforms", data.evalTransforms)] {
            lines.append("  \(key):" + (list.isEmpty ? " []" : ""))
            lines += list.map { "    - " + yaml($0) }
        }
        // Keys added later are written only when not at their default, so older configs keep their hash.
        if !data.shuffle { lines.append("  shuffle: false") }
        if data.onBadFile != .error { lines.append("  on_bad_file: \(data.onBadFile.rawValue)") }
        lines.append("train:")
        lines.append("  batch_size: \(train.batchSize)")
        lines.append("  eval_batch_size: \(train.evalBatchSize)")
        switch train.length {
        case .epochs(let count): lines.append("  epochs: \(count)")
        case .iterations(let count): lines.append("  iterations: \(count)")
        }
        let optimizer = train.optimizer
        var optimizerFields = ["name: \(optimizer.name.rawValue)", "lr: \(number(optimizer.learningRate))"]
        if optimizer.name == .sgd {
            optimizerFields += ["momentum: \(number(optimizer.momentum))", "dampening: \(number(optimizer.dampening))",
                                "nesterov: \(optimizer.nesterov)"]
        } else {
            optimizerFields += ["betas: [\(number(optimizer.beta1)), \(number(optimizer.beta2))]",
                                "eps: \(number(optimizer.eps))"]
        }
        optimizerFields.append("weight_decay: \(number(optimizer.weightDecay))")
        lines.append("  optimizer: {\(optimizerFields.joined(separator: ", "))}")
        let schedule = train.schedule
        var scheduleFields = ["name: \(schedule.name.rawValue)"]
        switch schedule.name {
        case .constant: break
        case .step: scheduleFields += ["step_size: \(schedule.stepSize)", "gamma: \(number(schedule.gamma))"]
        case .multistep:
            scheduleFields += ["milestones: [\(schedule.milestones.map(String.init).joined(separator: ", "))]",
                               "gamma: \(number(schedule.gamma))"]
        case .exponential: scheduleFields.append("gamma: \(number(schedule.gamma))")
        case .cosine:
            scheduleFields += ["t_max: \(schedule.tMax.map(String.init) ?? "null")", "eta_min: \(number(schedule.etaMin))"]
        case .reduceOnPlateau, .oneCycle: break  // their keys are written by the schema branch
        }
        switch schedule.warmup {
        case nil: break
        case .epochs(let count)?: scheduleFields.append("warmup_epochs: \(count)")
        case .iterations(let count)?: scheduleFields.append("warmup_iterations: \(count)")
        }
        lines.append("  schedule: {\(scheduleFields.joined(separator: ", "))}")
        lines.append("  eval_every_iterations: \(train.evalEveryIterations.map(String.init) ?? "null")")
        lines.append("  eval_every_epoch: \(train.evalEveryEpoch)")
        lines.append("  seed: \(train.seed)")
        lines.append("  threads: \(train.threads)")
        lines.append("  backend: \(train.backend.rawValue)")
        let overrides = train.layerBackends.map { "\(JSONText.quoted($0.layer)): \($0.backend.rawValue)" }
        lines.append("  layer_backends: {\(overrides.joined(separator: ", "))}")
        lines.append("  checkpoint_every: \(train.checkpointEvery)")
        if let initial = train.initialization {
            lines.append("  init: {checkpoint: \(JSONText.quoted(initial.checkpoint)), strict: \(initial.strict), "
                + "exclude: [\(initial.exclude.map(JSONText.quoted).joined(separator: ", "))]}")
        }
        if !train.freeze.isEmpty { lines.append("  freeze: [\(train.freeze.map(JSONText.quoted).joined(separator: ", "))]") }
        lines.append("  fuse: \(train.fuse)")
        lines.append("output:")
        lines.append("  dir: \(output.directory.map(JSONText.quoted) ?? "null")")
        let policy = output.checkpoint
        lines.append("  checkpoint: {best: \(policy.best), last: \(policy.last), every_epochs: \(policy.everyEpochs)}")
        return lines.joined(separator: "\n") + "\n"
    }

    /// FNV-1a 64 of `yamlText`, as 16 hex digits: equal resolved configs have equal hashes.
    public var hash: String {
        var value: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in yamlText.utf8 {
            value ^= UInt64(byte)
            value &*= 0x0000_0100_0000_01b3
        }
        let hex = String(value, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}

private func yaml(_ transform: TransformSpec) -> String {
    switch transform {
    case .scale: return "scale"
    case .normalize(.auto): return "normalize: auto"
    case .normalize(.fixed(let mean, let std)):
        return "normalize: {mean: [\(mean.map(number).joined(separator: ", "))], std: [\(std.map(number).joined(separator: ", "))]}"
    case .resize(let height, let width): return "resize: [\(height), \(width)]"
    case .randomRotation(let degrees): return "random_rotation: \(number(degrees))"
    case .randomCrop(let height, let width, let padding):
        return "random_crop: {size: [\(height), \(width)], padding: \(padding)}"
    case .horizontalFlip(let probability): return "horizontal_flip: \(number(probability))"
    }
}

/// Shortest text that reads back as the same Double.
private func number(_ value: Double) -> String { "\(value)" }

