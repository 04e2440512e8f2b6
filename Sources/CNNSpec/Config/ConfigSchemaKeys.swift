import Foundation

/// The run-config schema: every key, declared once, in the order the resolved config writes them.
///
/// Adding a key is one entry here plus the `RunConfig` field it fills (whose initial value is the
/// default). Cross-key rules (`epochs` or `iterations`, nesterov's conditions, …) are in
/// `RunConfigDecoder.checkRules`.
public enum ConfigSchema {
    public static let keys: [ConfigKey] = [
        .custom("name", type: "folder name", summary: "the run's name: runs go to runs/<name>/<timestamp>",
                derivedDefault: "the config file's name without extension",
                read: RunConfigDecoder.readName, write: { .inline(JSONText.quoted($0.name)) }),
        .custom("model", type: "path, or {file: path, args: {name: value}}",
                summary: "the model spec, relative to this config file; args: values for the model file's top-level args (e.g. {classes: 5})",
                derivedDefault: "required", example: "../models/modelA.yaml", acceptsSubkeys: true, shorthand: "file",
                read: RunConfigDecoder.readModel, write: { config in
                    guard !config.modelArguments.isEmpty else { return .inline(JSONText.quoted(config.modelPath)) }
                    return .inline("{file: \(JSONText.quoted(config.modelPath)), args: \(ModelArgument.flowText(config.modelArguments))}")
                }),

        .section("data", .block, "where the data comes from and how each sample is transformed"),
        .choice("data.dataset", \.data.dataset, "the dataset (folder: torchvision ImageFolder layout; npy: x_train.npy, y_train.npy, x_test.npy, y_test.npy)"),
        .custom("data.root", type: "path or null",
                summary: "folder with the files, relative to this config file (like model); null searches data/<dataset> "
                    + "in the current directory, then system folders; required for folder and npy",
                read: RunConfigDecoder.readDataRoot, write: { .inline($0.data.root.map(JSONText.quoted) ?? "null") }),
        .number("data.validation_split", \.data.validationSplit, .halfOpen(0, 1),
                "fraction of the training file held out for validation; 0 = no validation set"),
        .optionalInteger("data.split_seed", \.data.splitSeed, 0...ConfigLimits.largestSeed,
                         "seed of the train/validation split; null = train.seed"),
        .custom("data.train_transforms", type: "list of transforms", summary:
                    "applied to training samples in order: resize, center_crop, random_resized_crop, random_crop, random_rotation, "
                    + "horizontal_flip, vertical_flip, color_jitter, then scale, normalize (see docs/photos.md)",
                read: { state, node in
                    state.config.data.trainTransforms = RunConfigDecoder.transforms(node, path: "data.train_transforms", state: state)
                        ?? state.config.data.trainTransforms
                }, write: { .blockList($0.data.trainTransforms.map(TransformText.yaml)) }),
        .custom("data.eval_transforms", type: "list of transforms", summary: "applied to validation and test samples in order",
                derivedDefault: "train_transforms without the random steps",
                read: { state, node in
                    state.config.data.evalTransforms = RunConfigDecoder.transforms(node, path: "data.eval_transforms", state: state)
                        ?? state.config.data.trainTransforms.filter { !$0.isRandom }
                }, write: { .blockList($0.data.evalTransforms.map(TransformText.yaml)) }),
        .bool("data.shuffle", \.data.shuffle, written: .unlessDefault,
              "reshuffle the training samples every epoch; false replays the file order"),
        .choice("data.on_bad_file", \.data.onBadFile, written: .unlessDefault,
                "folder datasets: error lists every undecodable file and stops, skip lists them and trains without"),
        .optionalNumber("data.test_split", \.data.testSplit, .open(0, 1), written: .unlessDefault,
                        "folder datasets without a test/ folder: fraction of train/ held out as the test set (seeded by "
                            + "split_seed); null = 0.2 when there is no test/ folder"),
        .optionalInteger("data.cache_size", \.data.cacheSize, 1...ConfigLimits.largestImageSide, written: .unlessDefault,
                         "folder datasets whose transforms resize or crop: keep pictures with this shorter side (PIL bilinear) "
                            + "instead of their full size; null = full size"),

        .section("train", .block, "the training recipe"),
        .integer("train.batch_size", \.train.batchSize, 1...ConfigLimits.largestBatchSize, "images per optimizer step"),
        .custom("train.eval_batch_size", type: "integer 1…\(ConfigSchema.grouped(ConfigLimits.largestBatchSize)) or null",
                summary: "batch size of validation and test passes", derivedDefault: "batch_size",
                read: { state, node in
                    state.config.train.evalBatchSize = state.reader.optionalInt(
                        node, path: "train.eval_batch_size", minimum: 1, maximum: ConfigLimits.largestBatchSize)
                        ?? state.config.train.batchSize
                }, write: { .inline("\($0.train.evalBatchSize)") }),
        .custom("train.epochs", type: "integer 1…\(ConfigSchema.grouped(ConfigLimits.largestEpochs))",
                summary: "train this many epochs (or give iterations; not both)",
                read: { state, node in
                    if let epochs = state.reader.optionalInt(node, path: "train.epochs", minimum: 1,
                                                             maximum: ConfigLimits.largestEpochs) {
                        state.config.train.length = .epochs(epochs)
                    }
                }, write: { config in
                    guard case .epochs(let count) = config.train.length else { return nil }
                    return .inline("\(count)")
                }),
        .custom("train.iterations", type: "integer 1…\(ConfigSchema.grouped(ConfigLimits.largestCount)) or null",
                summary: "train this many optimizer steps (batches) instead of epochs",
                read: { state, node in
                    if let iterations = state.reader.optionalInt(node, path: "train.iterations", minimum: 1) {
                        state.config.train.length = .iterations(iterations)
                    }
                }, write: { config in
                    guard case .iterations(let count) = config.train.length else { return nil }
                    return .inline("\(count)")
                }),

        .section("train.optimizer", .flow, "the optimizer, with PyTorch's names and defaults"),
        .custom("train.optimizer.name", type: ConfigSchema.listed(OptimizerName.allCases.map(\.rawValue)),
                summary: "the optimizer (PyTorch SGD, Adam, AdamW, RMSprop); it decides which other keys apply",
                read: { state, node in
                    let name = state.reader.choice(node, path: "train.optimizer.name", default: state.config.train.optimizer.name)
                    state.config.train.optimizer = OptimizerConfig(name: name)
                }, write: { .inline($0.train.optimizer.name.rawValue) }),
        .number("train.optimizer.lr", \.train.optimizer.learningRate, .positive(upTo: 1e6),
                derivedDefault: ConfigSchema.perOptimizer { $0.learningRate }, "learning rate"),
        .number("train.optimizer.momentum", \.train.optimizer.momentum, .closed(0, 1), variant: .optimizer, "momentum factor"),
        .number("train.optimizer.dampening", \.train.optimizer.dampening, .closed(0, 1), variant: .optimizer,
                "dampening of the momentum"),
        .bool("train.optimizer.nesterov", \.train.optimizer.nesterov, variant: .optimizer,
              "Nesterov momentum; needs momentum > 0 and dampening 0"),
        .custom("train.optimizer.betas", type: "two numbers in [0, 1)",
                summary: "decay rates of the first and second moment averages", variant: .optimizer,
                read: RunConfigDecoder.readBetas,
                write: { .inline("[\(ConfigSchema.number($0.train.optimizer.beta1)), \(ConfigSchema.number($0.train.optimizer.beta2))]") }),
        .number("train.optimizer.eps", \.train.optimizer.eps, .positive(upTo: 1), variant: .optimizer,
                "added to the denominator for numerical stability"),
        .number("train.optimizer.weight_decay", \.train.optimizer.weightDecay, .nonNegative(upTo: 1e6),
                derivedDefault: ConfigSchema.perOptimizer { $0.weightDecay },
                "L2 penalty (SGD, Adam, RMSprop) or decoupled decay (AdamW)"),
        .number("train.optimizer.alpha", \.train.optimizer.alpha, .halfOpen(0, 1), variant: .optimizer,
                "smoothing constant of the squared-gradient average"),
        .bool("train.optimizer.centered", \.train.optimizer.centered, variant: .optimizer,
              "normalise by the centred second moment (an estimate of the variance)"),

        .section("train.schedule", .flow, "the learning-rate schedule (PyTorch's; per epoch, except one_cycle per iteration and reduce_on_plateau per validation)"),
        .choice("train.schedule.name", \.train.schedule.name, "the schedule; it decides which other keys apply"),
        .integer("train.schedule.step_size", \.train.schedule.stepSize, 1...ConfigLimits.largestCount, variant: .schedule,
                 "decay every this many epochs: lr·gamma^(epoch // step_size)"),
        .custom("train.schedule.milestones", type: "increasing list of integers ≥ 1",
                summary: "epochs at which the rate is multiplied by gamma (required)", variant: .schedule,
                read: RunConfigDecoder.readMilestones,
                write: { .inline("[\($0.train.schedule.milestones.map(String.init).joined(separator: ", "))]") }),
        .number("train.schedule.gamma", \.train.schedule.gamma, .positive(upTo: 1e6), variant: .schedule, "decay factor"),
        .optionalInteger("train.schedule.t_max", \.train.schedule.tMax, 1...ConfigLimits.largestCount, variant: .schedule,
                         "half-period in epochs; null = the run's length in epochs"),
        .number("train.schedule.eta_min", \.train.schedule.etaMin, .nonNegative(upTo: 1e6), variant: .schedule,
                "the lowest rate"),
        .custom("train.schedule.warmup_epochs", type: "integer ≥ 0", summary:
                    "linear warm-up lr·(i+1)/W over the first W iterations of this many epochs (or warmup_iterations; not both)",
                read: { state, node in RunConfigDecoder.readWarmup(node, path: "train.schedule.warmup_epochs", state: &state, Warmup.epochs) },
                write: { config in
                    guard case .epochs(let count)? = config.train.schedule.warmup else { return nil }
                    return .inline("\(count)")
                }),
        .custom("train.schedule.warmup_iterations", type: "integer ≥ 0", summary: "linear warm-up over this many iterations",
                read: { state, node in RunConfigDecoder.readWarmup(node, path: "train.schedule.warmup_iterations", state: &state, Warmup.iterations) },
                write: { config in
                    guard case .iterations(let count)? = config.train.schedule.warmup else { return nil }
                    return .inline("\(count)")
                }),
        .choice("train.schedule.metric", \.train.schedule.metric, variant: .schedule,
                "the validation metric watched (mode min for loss, max for accuracy)"),
        .number("train.schedule.factor", \.train.schedule.factor, .open(0, 1), variant: .schedule,
                "the rate is multiplied by this when the metric stalls"),
        .integer("train.schedule.patience", \.train.schedule.patience, 0...ConfigLimits.largestCount, variant: .schedule,
                 "validations without improvement tolerated before reducing"),
        .number("train.schedule.threshold", \.train.schedule.threshold, .nonNegative(), variant: .schedule,
                "how much better counts as an improvement"),
        .choice("train.schedule.threshold_mode", \.train.schedule.thresholdMode, variant: .schedule,
                "threshold relative to the best value (rel) or absolute (abs)"),
        .integer("train.schedule.cooldown", \.train.schedule.cooldown, 0...ConfigLimits.largestCount, variant: .schedule,
                 "validations to wait after a reduction before counting again"),
        .number("train.schedule.min_lr", \.train.schedule.minLearningRate, .nonNegative(), variant: .schedule,
                "lower bound of the rate"),
        .optionalNumber("train.schedule.max_lr", \.train.schedule.maxLearningRate, .positive(), variant: .schedule,
                        "the peak rate; null = the optimizer's lr"),
        .number("train.schedule.pct_start", \.train.schedule.pctStart, .open(0, 1), variant: .schedule,
                "fraction of the run spent increasing the rate"),
        .choice("train.schedule.anneal_strategy", \.train.schedule.annealStrategy, variant: .schedule, "annealing shape"),
        .number("train.schedule.div_factor", \.train.schedule.divFactor, .positive(), variant: .schedule,
                "initial rate = max_lr / div_factor"),
        .number("train.schedule.final_div_factor", \.train.schedule.finalDivFactor, .positive(), variant: .schedule,
                "final rate = initial rate / final_div_factor"),
        .bool("train.schedule.three_phase", \.train.schedule.threePhase, variant: .schedule,
              "a third phase annihilates the rate (PyTorch three_phase)"),
        .bool("train.schedule.cycle_momentum", \.train.schedule.cycleMomentum, variant: .schedule,
              "cycle SGD momentum / Adam beta1 inversely to the rate"),
        .number("train.schedule.base_momentum", \.train.schedule.baseMomentum, .closed(0, 1), variant: .schedule,
                "lowest momentum of the cycle"),
        .number("train.schedule.max_momentum", \.train.schedule.maxMomentum, .closed(0, 1), variant: .schedule,
                "highest momentum of the cycle"),

        .optionalInteger("train.eval_every_iterations", \.train.evalEveryIterations, 1...ConfigLimits.largestCount,
                         "also evaluate on the validation set every this many iterations; null = only at epoch ends"),
        .bool("train.eval_every_epoch", \.train.evalEveryEpoch, "evaluate on the validation set at the end of every epoch"),
        .integer("train.seed", \.train.seed, 0...ConfigLimits.largestSeed,
                 "seed of initialisation, shuffling, augmentation and (unless data.split_seed) the split"),
        .integer("train.threads", \.train.threads, 0...ConfigLimits.largestThreadCount, "worker threads; 0 = all cores"),
        .choice("train.backend", \.train.backend,
                "convolution backend of every conv layer; auto rules out backends from a FLOP/memory estimate, times the rest at start-up and caches the timings per user (README)"),
        .custom("train.layer_backends", type: "mapping layer name → backend", summary: "per-layer backends, e.g. {cnn1: im2col}",
                acceptsSubkeys: true, read: RunConfigDecoder.readLayerBackends,
                write: { config in
                    .inline("{" + config.train.layerBackends.map { "\(JSONText.quoted($0.layer)): \($0.backend.rawValue)" }
                        .joined(separator: ", ") + "}")
                }),
        .custom("train.checkpoint_every", type: "iterations (500), a duration (300s, 5m, 1h; at most a week) or off",
                summary: "also save resume state inside epochs; a kill loses at most this much work",
                read: RunConfigDecoder.readCheckpointEvery, write: { .inline("\($0.train.checkpointEvery)") }),
        .custom("train.init", type: "FILE or {checkpoint: FILE, strict: bool, exclude: [layers], key: KEY}",
                summary: "start from a checkpoint's weights (safetensors or PyTorch .pth); strict: every tensor must match; "
                    + "exclude: layers (names, prefixes or globs) kept as initialised; key: the entry of a .pth dict holding the state_dict",
                acceptsSubkeys: true, shorthand: "checkpoint", written: .unlessDefault, read: RunConfigDecoder.readInit,
                write: { config in
                    guard let initial = config.train.initialization else { return .inline("null") }
                    return .inline("{checkpoint: \(JSONText.quoted(initial.checkpoint)), strict: \(initial.strict), "
                        + "exclude: [\(initial.exclude.map(JSONText.quoted).joined(separator: ", "))]"
                        + (initial.key.map { ", key: \(JSONText.quoted($0))" } ?? "") + "}")
                }),
        .custom("train.freeze", type: "list of layer names, prefixes or globs",
                summary: "layers whose parameters stay fixed (fine-tuning): names, prefixes (layer1) or globs (features.*)",
                written: .unlessDefault,
                read: { state, node in
                    let names = RunConfigDecoder.names(node, path: "train.freeze", state: &state)
                    state.config.train.freeze = names ?? []
                }, write: { .inline("[\($0.train.freeze.map(JSONText.quoted).joined(separator: ", "))]") }),
        .bool("train.fuse", \.train.fuse,
              "let the plan fuse back-to-back layers (ReLU into pooling, …); false runs each layer alone, for debugging"),
        .number("train.allreduce_bucket_mb", \.train.allreduceBucketMB, .positive(upTo: 4096), written: .unlessDefault,
                "data-parallel runs (mpirun/srun; docs/distributed.md): gradients are all-reduced in buckets of about this many MB while backward goes on (DDP's bucket_cap_mb)"),
        .optionalNumber("train.clip_grad_norm", \.train.clipGradNorm, .positive(), written: .unlessDefault,
                        "rescale the gradients so their global L2 norm is at most this (clip_grad_norm_); null = off"),
        .optionalNumber("train.clip_grad_value", \.train.clipGradValue, .positive(), written: .unlessDefault,
                        "clamp every gradient element to [−v, v] (clip_grad_value_), before clip_grad_norm; null = off"),
        .number("train.label_smoothing", \.train.labelSmoothing, .closed(0, 1), written: .unlessDefault,
                "cross-entropy against (1 − ε)·one-hot + ε/K (CrossEntropyLoss(label_smoothing=ε))"),
        .optionalSection("train.early_stopping", .flow, written: .unlessDefault,
                         "stop when a validation metric stops improving; needs a validation set; null = never",
                         isPresent: { $0.train.earlyStopping != nil },
                         create: { $0.train.earlyStopping = EarlyStoppingConfig() }),
        .choice("train.early_stopping.metric", \.train.earlyStopping!.metric, "the validation metric watched"),
        .integer("train.early_stopping.patience", \.train.earlyStopping!.patience, 1...ConfigLimits.largestCount,
                 "stop after this many validations in a row without improvement"),
        .number("train.early_stopping.min_delta", \.train.earlyStopping!.minDelta, .nonNegative(),
                "an improvement must beat the best value by more than this"),
        .optionalInteger("train.log_every", \.train.logEvery, 1...ConfigLimits.largestCount, written: .unlessDefault,
                         "write training loss and accuracy to metrics.csv every this many iterations; null = chosen from the run's length"),

        .section("output", .block, "where the run writes and what it keeps"),
        .optionalString("output.dir", \.output.directory, "the run folder; null (~, or no key) = runs/<name>/<timestamp>; empty text is refused"),
        .section("output.checkpoint", .flow, "which checkpoints the run writes"),
        .bool("output.checkpoint.best", \.output.checkpoint.best, "best.safetensors: the weights with the lowest validation loss"),
        .bool("output.checkpoint.last", \.output.checkpoint.last, "last.safetensors: the weights at the end of training"),
        .integer("output.checkpoint.every_epochs", \.output.checkpoint.everyEpochs, 0...ConfigLimits.largestEpochs,
                 "epoch-<n>.safetensors every this many epochs; 0 = never"),
        .bool("output.tensorboard", \.output.tensorboard, written: .unlessDefault,
              "also write the scalars as a TensorBoard event file in the run folder"),
    ]

    /// A config with every default: what the keys' default texts and `--defaults` show.
    public static let defaults = RunConfig(name: "", configPath: "", modelPath: "")

    private static let byPath: [String: ConfigKey] = Dictionary(uniqueKeysWithValues: keys.map { ($0.path, $0) })

    /// The key at a dotted path.
    public static func key(_ path: String) -> ConfigKey? { byPath[path] }

    /// The keys directly inside a section ("" = the top level), in declaration order.
    public static func children(of section: String) -> [ConfigKey] { keys.filter { $0.parent == section } }

    /// Every key path, for did-you-mean.
    public static var paths: [String] { keys.map(\.path) }

    /// Why `keyPath` (from `--set`, a sweep's `vary` or `overrides`) names no key of the schema, or nil
    /// when it does. Keys holding their own mappings (`train.layer_backends.cnn1`) accept longer paths.
    public static func problem(keyPath: [String]) -> (message: String, hint: String)? {
        var section = ""
        for (index, part) in keyPath.enumerated() {
            let path = section.isEmpty ? part : section + "." + part
            guard let key = key(path) else {
                let problem = ValueReader.unknownKey(part, in: section, allowed: children(of: section).map(\.name))
                return (problem.message, problem.hint)
            }
            if key.isSection { section = path; continue }
            if index < keyPath.count - 1 && !key.acceptsSubkeys {
                return ("'\(path)' is a single value, not a mapping of keys", "write \(path)=VALUE")
            }
            return nil
        }
        return nil
    }
}
