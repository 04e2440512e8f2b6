import Foundation

/// Turns a run-config YAML tree into a `RunConfig`, reporting every problem with its location.
struct RunConfigDecoder {
    static let topKeys = ["name", "model", "data", "train", "output"]
    static let dataKeys = ["dataset", "root", "validation_split", "split_seed", "train_transforms", "eval_transforms",
                           "shuffle", "on_bad_file"]
    static let trainKeys = ["batch_size", "eval_batch_size", "epochs", "iterations", "optimizer", "schedule",
                            "eval_every_iterations", "eval_every_epoch", "seed", "threads", "backend", "layer_backends",
                            "checkpoint_every", "init", "freeze", "fuse"]
    static let initKeys = ["checkpoint", "strict", "exclude"]
    static let optimizerKeys = ["name", "lr", "momentum", "dampening", "nesterov", "weight_decay", "betas", "eps"]
    static let scheduleKeys = ["name", "step_size", "gamma", "milestones", "t_max", "eta_min",
                               "warmup_epochs", "warmup_iterations"]
    static let outputKeys = ["dir", "checkpoint"]
    static let checkpointKeys = ["best", "last", "every_epochs"]
    static let transformNames = ["scale", "normalize", "resize", "random_rotation", "random_crop", "horizontal_flip"]

    var reader = ConfigNodeReader()
    let file: String

    init(file: String) { self.file = file }

    private var fileStart: SourceLocation { SourceLocation(file: file, line: 1, column: 1) }

    mutating func decode(_ root: YAMLNode, configPath: String) -> RunConfig {
        let top = reader.mapping(root, path: "", allowed: Self.topKeys)
        let stem = URL(fileURLWithPath: configPath).deletingPathExtension().lastPathComponent
        let name = reader.string(top["name"], path: "name") ?? stem
        if let problem = folderNameProblem(name) {
            reader.error("'name' must be a plain folder name, but \(problem)", at: top["name"], fallback: fileStart,
                         hint: "e.g. name: modelA (the run goes to runs/<name>/<timestamp>; use output.dir for another place)")
        }
        var modelPath = ""
        if let model = reader.string(top["model"], path: "model"), !model.isEmpty {
            modelPath = Self.resolve(model, relativeTo: configPath)
        } else if top["model"] == nil || top["model"]?.isNull == true {
            reader.error("the config names no model spec", at: top["model"], fallback: fileStart,
                         hint: "add 'model: ../models/modelA.yaml' (a path relative to this config file)")
        }
        let data = decodeData(top["data"])
        let train = decodeTrain(top["train"])
        let output = decodeOutput(top["output"])
        return RunConfig(name: name, configPath: configPath, modelPath: modelPath, data: data, train: train, output: output)
    }

    /// `path` made absolute against the folder of `configPath` (itself against the current directory).
    static func resolve(_ path: String, relativeTo configPath: String) -> String {
        if path.hasPrefix("/") { return URL(fileURLWithPath: path).standardizedFileURL.path }
        let folder = URL(fileURLWithPath: configPath).standardizedFileURL.deletingLastPathComponent()
        return folder.appendingPathComponent(path).standardizedFileURL.path
    }

    // MARK: data

    private mutating func decodeData(_ node: YAMLNode?) -> DataConfig {
        let keys = reader.mapping(node, path: "data", allowed: Self.dataKeys)
        var data = DataConfig()
        data.dataset = reader.choice(keys["dataset"], path: "data.dataset", default: DatasetName.mnist)
        data.root = reader.string(keys["root"], path: "data.root")
        data.validationSplit = reader.double(keys["validation_split"], path: "data.validation_split",
                                             default: 0.1, range: 0...1, excludingUpper: true)
        data.splitSeed = reader.optionalInt(keys["split_seed"], path: "data.split_seed", minimum: 0, maximum: ConfigLimits.largestSeed)
        data.shuffle = reader.bool(keys["shuffle"], path: "data.shuffle", default: true)
        data.onBadFile = reader.choice(keys["on_bad_file"], path: "data.on_bad_file", default: BadFilePolicy.error)
        if (data.dataset == .folder || data.dataset == .npy) && (data.root ?? "").isEmpty {
            reader.error("data.dataset '\(data.dataset.rawValue)' needs 'data.root', the folder holding the data",
                         at: keys["dataset"], fallback: fileStart,
                         hint: data.dataset == .folder ? "for example 'root: data/my-images' with train/<class>/*.png inside"
                                                       : "for example 'root: data/arrays' with x_train.npy, y_train.npy, x_test.npy, y_test.npy")
        }
        // Folder and array datasets take their channel count from the files or the model: allow 1 or 3 values.
        let channels = data.dataset == .mnist || data.dataset == .fashionMNIST ? 1 : 3
        data.trainTransforms = decodeTransforms(keys["train_transforms"], path: "data.train_transforms",
                                                channels: channels) ?? [.scale]
        data.evalTransforms = decodeTransforms(keys["eval_transforms"], path: "data.eval_transforms",
                                               channels: channels) ?? data.trainTransforms.filter { !$0.isRandom }
        return data
    }

    private mutating func decodeTransforms(_ node: YAMLNode?, path: String, channels: Int) -> [TransformSpec]? {
        guard let node, !node.isNull else { return nil }
        guard case .sequence(let items, _) = node else {
            reader.error("'\(path)' must be a list of transforms, found \(node.kindDescription)", at: node, fallback: nil,
                         hint: "for example:\n      \(path.split(separator: ".").last ?? ""):\n        - scale\n        - normalize: auto")
            return nil
        }
        var transforms: [TransformSpec] = []
        var scaleSeen = false
        for (index, item) in items.enumerated() {
            let itemPath = "\(path)[\(index)]"
            guard let (name, nameNode, argument) = transformParts(item, path: itemPath) else { continue }
            guard let transform = decodeTransform(name, nameNode: nameNode, argument: argument, path: itemPath,
                                                  channels: channels) else { continue }
            switch transform {
            case .scale:
                if scaleSeen { reader.error("'\(itemPath)': scale appears twice", at: item, fallback: nil) }
                scaleSeen = true
            case .normalize:
                if !scaleSeen {
                    reader.error("'\(itemPath)': normalize must come after scale", at: item, fallback: nil,
                                 hint: "torchvision normalizes ToTensor()'s [0, 1] values: list '- scale' first")
                }
            case .resize, .randomRotation, .randomCrop, .horizontalFlip:
                if scaleSeen {
                    reader.error("'\(itemPath)': \(name) must come before scale", at: item, fallback: nil,
                                 hint: "geometric transforms work on the 8-bit image, as torchvision's do on PIL images before ToTensor()")
                }
            }
            transforms.append(transform)
        }
        return transforms
    }

    /// The transform's name, the node naming it, and its argument (nil for the short form `- scale`).
    private mutating func transformParts(_ item: YAMLNode, path: String) -> (String, YAMLNode, YAMLNode?)? {
        let name: String
        let nameNode: YAMLNode
        var argument: YAMLNode?
        switch item {
        case .scalar(let text, _, _):
            name = text; nameNode = item
        case .mapping(let pairs, _) where pairs.count == 1 && pairs[0].key.scalarText != nil:
            name = pairs[0].key.scalarText ?? ""; nameNode = pairs[0].key
            argument = pairs[0].value.isNull ? nil : pairs[0].value
        default:
            reader.error("'\(path)' must be a transform name or a one-key mapping such as 'resize: [32, 32]'",
                         at: item, fallback: nil, hint: "transforms: \(Self.transformNames.joined(separator: ", "))")
            return nil
        }
        guard Self.transformNames.contains(name) else {
            var hint = "transforms: \(Self.transformNames.joined(separator: ", "))"
            if let guess = DidYouMean.suggestion(for: name, among: Self.transformNames) { hint = "did you mean '\(guess)'? " + hint }
            reader.error("unknown transform '\(name)' in '\(path)'", at: nameNode, fallback: nil, hint: hint)
            return nil
        }
        return (name, nameNode, argument)
    }

    private mutating func decodeTransform(_ name: String, nameNode: YAMLNode, argument: YAMLNode?, path: String,
                                          channels: Int) -> TransformSpec? {
        switch name {
        case "scale":
            if let argument {
                reader.error("'\(path)': scale takes no value", at: argument, fallback: nil, hint: "write '- scale'")
                return nil
            }
            return .scale
        case "normalize":
            return decodeNormalize(argument, path: path + ".normalize", channels: channels, at: nameNode)
        case "resize":
            guard let size = decodeSize(argument, path: path + ".resize", at: nameNode) else { return nil }
            return .resize(height: size.0, width: size.1)
        case "random_rotation":
            var value = argument
            if let argument, case .mapping = argument {
                value = reader.mapping(argument, path: path + ".random_rotation", allowed: ["degrees"])["degrees"]
            }
            guard let degrees = reader.optionalDouble(value, path: path + ".random_rotation", range: 0...180) else {
                if value == nil {
                    reader.error("'\(path)': random_rotation needs the largest angle in degrees", at: nameNode,
                                 fallback: nil, hint: "write '- random_rotation: 25'")
                }
                return nil
            }
            return .randomRotation(degrees: degrees)
        case "random_crop":
            var sizeNode = argument
            var padding = 0
            if let argument, case .mapping = argument {
                let keys = reader.mapping(argument, path: path + ".random_crop", allowed: ["size", "padding"])
                sizeNode = keys["size"]
                padding = reader.int(keys["padding"], path: path + ".random_crop.padding", default: 0, minimum: 0,
                                     maximum: ConfigLimits.largestImageSide)
            }
            guard let size = decodeSize(sizeNode, path: path + ".random_crop.size", at: nameNode) else { return nil }
            return .randomCrop(height: size.0, width: size.1, padding: padding)
        case "horizontal_flip":
            var value = argument
            if let argument, case .mapping = argument {
                value = reader.mapping(argument, path: path + ".horizontal_flip", allowed: ["p"])["p"]
            }
            let p = reader.double(value, path: path + ".horizontal_flip", default: 0.5, range: 0...1)
            return .horizontalFlip(probability: p)
        default:
            return nil  // invariant: transformParts accepted only known names
        }
    }

    private mutating func decodeNormalize(_ node: YAMLNode?, path: String, channels: Int, at nameNode: YAMLNode)
        -> TransformSpec? {
        guard let node else { return .normalize(.auto) }
        if let text = node.scalarText {
            if text == "auto" { return .normalize(.auto) }
            reader.error("'\(path)' must be 'auto' or {mean: [...], std: [...]}, found \(node.kindDescription)",
                         at: node, fallback: nil, hint: "for MNIST: 'normalize: {mean: [0.1307], std: [0.3081]}'")
            return nil
        }
        let keys = reader.mapping(node, path: path, allowed: ["mean", "std"])
        guard case .mapping = node else { return nil }
        let mean = reader.doubles(keys["mean"], path: path + ".mean", range: -1e6...1e6)
        let std = reader.doubles(keys["std"], path: path + ".std", range: 0...1e6, excludingLower: true)
        for key in ["mean", "std"] where keys[key] == nil {
            reader.error("'\(path)' needs '\(key)'", at: node, fallback: nil,
                         hint: "give both, e.g. {mean: [0.1307], std: [0.3081]}, or write 'normalize: auto'")
        }
        guard let mean, let std else { return nil }
        for (key, values) in [("mean", mean), ("std", std)] where values.count != 1 && values.count != channels {
            reader.error("'\(path).\(key)' has \(values.count) values but the images have \(channels) channel\(channels == 1 ? "" : "s")",
                         at: keys[key], fallback: nil, hint: "give one value per channel, or one for all")
            return nil
        }
        return .normalize(.fixed(mean: mean, std: std))
    }

    /// A size written `32` or `[32, 28]` (height, width).
    private mutating func decodeSize(_ node: YAMLNode?, path: String, at nameNode: YAMLNode) -> (Int, Int)? {
        guard let node, !node.isNull else {
            reader.error("'\(path)' needs a size", at: nameNode, fallback: nil, hint: "write 32 or [height, width]")
            return nil
        }
        guard let values = reader.ints(node, path: path, minimum: 1, maximum: ConfigLimits.largestImageSide) else { return nil }
        switch values.count {
        case 1: return (values[0], values[0])
        case 2: return (values[0], values[1])
        default:
            reader.error("'\(path)' must be one number or [height, width], found \(values.count) numbers",
                         at: node, fallback: nil)
            return nil
        }
    }

    // MARK: train

    private mutating func decodeTrain(_ node: YAMLNode?) -> TrainConfig {
        let keys = reader.mapping(node, path: "train", allowed: Self.trainKeys)
        let batchSize = reader.int(keys["batch_size"], path: "train.batch_size", default: 64, minimum: 1,
                                   maximum: ConfigLimits.largestBatchSize)
        let evalBatch = reader.optionalInt(keys["eval_batch_size"], path: "train.eval_batch_size", minimum: 1,
                                           maximum: ConfigLimits.largestBatchSize)
        let epochs = reader.optionalInt(keys["epochs"], path: "train.epochs", minimum: 1, maximum: ConfigLimits.largestEpochs)
        let iterations = reader.optionalInt(keys["iterations"], path: "train.iterations", minimum: 1)
        var length = TrainingLength.epochs(10)
        if let epochs, let iterations {
            reader.error("give either 'train.epochs' (\(epochs)) or 'train.iterations' (\(iterations)), not both",
                         at: keys["iterations"], fallback: nil)
        } else if let epochs {
            length = .epochs(epochs)
        } else if let iterations {
            length = .iterations(iterations)
        }
        let optimizer = decodeOptimizer(keys["optimizer"])
        let schedule = decodeSchedule(keys["schedule"])
        let evalEvery = reader.optionalInt(keys["eval_every_iterations"], path: "train.eval_every_iterations", minimum: 1)
        let evalEpoch = reader.bool(keys["eval_every_epoch"], path: "train.eval_every_epoch", default: true)
        let seed = reader.int(keys["seed"], path: "train.seed", default: 0, minimum: 0, maximum: ConfigLimits.largestSeed)
        let threads = reader.int(keys["threads"], path: "train.threads", default: 0, minimum: 0,
                                 maximum: ConfigLimits.largestThreadCount)
        let backend = reader.choice(keys["backend"], path: "train.backend", default: BackendRequest.auto)
        var layerBackends: [LayerBackend] = []
        if let overrides = keys["layer_backends"], !overrides.isNull {
            if case .mapping(let pairs, _) = overrides {
                for (key, value) in pairs {
                    guard let layer = key.scalarText else { continue }
                    let chosen = reader.choice(value, path: "train.layer_backends.\(layer)", default: BackendRequest.auto)
                    layerBackends.append(LayerBackend(layer: layer, backend: chosen, location: key.location))
                }
            } else {
                reader.error("'train.layer_backends' must map layer names to backends, found \(overrides.kindDescription)",
                             at: overrides, fallback: nil, hint: "for example {cnn1: im2col, cnn2: direct}")
            }
        }
        var config = TrainConfig(batchSize: batchSize, evalBatchSize: evalBatch, length: length, optimizer: optimizer,
                                 schedule: schedule, evalEveryIterations: evalEvery, evalEveryEpoch: evalEpoch, seed: seed,
                                 threads: threads, backend: backend, layerBackends: layerBackends)
        if let text = reader.string(keys["checkpoint_every"], path: "train.checkpoint_every") {
            if let interval = CheckpointInterval(text: text), text.count < 20 {
                if case .iterations(let count) = interval, count > ConfigLimits.largestCount {
                    reader.error("'train.checkpoint_every' must be in 1...\(ConfigLimits.largestCount) iterations, found \(count)",
                                 at: keys["checkpoint_every"], fallback: nil)
                } else {
                    config.checkpointEvery = interval
                }
            } else {
                reader.error("'train.checkpoint_every' cannot be '\(text)'", at: keys["checkpoint_every"], fallback: nil,
                             hint: "a number of iterations (500), a duration (300s, 5m, 1h; at most a week) or off")
            }
        }
        config.initialization = decodeInit(keys["init"])
        config.freeze = decodeNames(keys["freeze"], path: "train.freeze") ?? []
        config.fuse = reader.bool(keys["fuse"], path: "train.fuse", default: true)
        return config
    }

    /// `train.init`: a checkpoint path, or {checkpoint, strict, exclude}.
    private mutating func decodeInit(_ node: YAMLNode?) -> InitialWeights? {
        guard let node, !node.isNull else { return nil }
        if node.scalarText != nil, let path = reader.string(node, path: "train.init") {
            return InitialWeights(checkpoint: path)
        }
        let keys = reader.mapping(node, path: "train.init", allowed: Self.initKeys)
        guard case .mapping = node else { return nil }
        guard let path = reader.string(keys["checkpoint"], path: "train.init.checkpoint"), !path.isEmpty else {
            reader.error("'train.init' needs 'checkpoint', the safetensors file to start from", at: node, fallback: nil,
                         hint: "for example 'init: {checkpoint: runs/base/last.safetensors, exclude: [fc1]}'")
            return nil
        }
        let strict = reader.bool(keys["strict"], path: "train.init.strict", default: true)
        let exclude = decodeNames(keys["exclude"], path: "train.init.exclude") ?? []
        return InitialWeights(checkpoint: path, strict: strict, exclude: exclude)
    }

    /// A list of layer names (a single name is accepted as a one-item list).
    private mutating func decodeNames(_ node: YAMLNode?, path: String) -> [String]? {
        guard let node, !node.isNull else { return nil }
        if node.scalarText != nil { return reader.string(node, path: path).map { [$0] } }
        guard case .sequence(let items, _) = node else {
            reader.error("'\(path)' must be a list of layer names, found \(node.kindDescription)", at: node, fallback: nil,
                         hint: "for example [cnn1, cnn2]")
            return nil
        }
        return items.compactMap { reader.string($0, path: path) }
    }

    /// Reports keys given in `keys` that the chosen variant does not use.
    private mutating func rejectInapplicable(_ keys: [String: YAMLNode], _ names: [String], path: String,
                                             chosen: String, usedBy: String) {
        for name in names {
            if let node = keys[name] {
                reader.error("'\(path).\(name)' applies to \(usedBy), not '\(chosen)'", at: node, fallback: nil,
                             hint: "remove it or change '\(path).name'")
            }
        }
    }

    private mutating func decodeOptimizer(_ node: YAMLNode?) -> OptimizerConfig {
        let path = "train.optimizer"
        let keys = reader.mapping(node, path: path, allowed: Self.optimizerKeys)
        let name = reader.choice(keys["name"], path: path + ".name", default: OptimizerName.sgd)
        let lr = reader.optionalDouble(keys["lr"], path: path + ".lr", range: 0...1e6, excludingLower: true)
        let weightDecay = reader.optionalDouble(keys["weight_decay"], path: path + ".weight_decay", range: 0...1e6)
        var config = OptimizerConfig(name: name, learningRate: lr, weightDecay: weightDecay)
        if name == .sgd {
            rejectInapplicable(keys, ["betas", "eps"], path: path, chosen: name.rawValue, usedBy: "adam and adamw")
            config.momentum = reader.double(keys["momentum"], path: path + ".momentum", default: 0, range: 0...1)
            config.dampening = reader.double(keys["dampening"], path: path + ".dampening", default: 0, range: 0...1)
            config.nesterov = reader.bool(keys["nesterov"], path: path + ".nesterov", default: false)
            if config.nesterov && (config.momentum <= 0 || config.dampening != 0) {
                reader.error("'\(path).nesterov' needs momentum > 0 and dampening 0 (as in PyTorch)",
                             at: keys["nesterov"], fallback: nil)
            }
        } else {
            rejectInapplicable(keys, ["momentum", "dampening", "nesterov"], path: path, chosen: name.rawValue, usedBy: "sgd")
            if let betas = reader.doubles(keys["betas"], path: path + ".betas", range: 0...1, excludingLower: false) {
                if betas.count == 2 && betas.allSatisfy({ $0 < 1 }) {
                    config.beta1 = betas[0]; config.beta2 = betas[1]
                } else {
                    reader.error("'\(path).betas' must be two numbers in [0, 1), e.g. [0.9, 0.999]", at: keys["betas"],
                                 fallback: nil)
                }
            }
            config.eps = reader.double(keys["eps"], path: path + ".eps", default: 1e-8, range: 0...1, excludingLower: true)
        }
        return config
    }

    private mutating func decodeSchedule(_ node: YAMLNode?) -> ScheduleConfig {
        let path = "train.schedule"
        let keys = reader.mapping(node, path: path, allowed: Self.scheduleKeys)
        let name = reader.choice(keys["name"], path: path + ".name", default: ScheduleName.constant)
        var config = ScheduleConfig(name: name)
        let uses: [ScheduleName: [String]] = [.constant: [], .step: ["step_size", "gamma"],
                                              .multistep: ["milestones", "gamma"], .exponential: ["gamma"],
                                              .cosine: ["t_max", "eta_min"]]
        for key in ["step_size", "gamma", "milestones", "t_max", "eta_min"] where !(uses[name] ?? []).contains(key) {
            let users = uses.filter { $0.value.contains(key) }.map(\.key.rawValue).sorted().joined(separator: ", ")
            rejectInapplicable(keys, [key], path: path, chosen: name.rawValue, usedBy: users)
        }
        config.stepSize = reader.int(keys["step_size"], path: path + ".step_size", default: 10, minimum: 1)
        config.gamma = reader.double(keys["gamma"], path: path + ".gamma", default: 0.1, range: 0...1e6, excludingLower: true)
        if name == .multistep {
            if let milestones = reader.ints(keys["milestones"], path: path + ".milestones", minimum: 1) {
                if milestones != milestones.sorted() || Set(milestones).count != milestones.count {
                    reader.error("'\(path).milestones' must increase strictly", at: keys["milestones"], fallback: nil)
                }
                config.milestones = milestones
            } else if keys["milestones"] == nil {
                reader.error("schedule 'multistep' needs '\(path).milestones'", at: keys["name"], fallback: nil,
                             hint: "for example 'milestones: [30, 80]' (epochs)")
            }
        }
        config.tMax = reader.optionalInt(keys["t_max"], path: path + ".t_max", minimum: 1)
        config.etaMin = reader.double(keys["eta_min"], path: path + ".eta_min", default: 0, range: 0...1e6)
        let warmEpochs = reader.optionalInt(keys["warmup_epochs"], path: path + ".warmup_epochs", minimum: 0)
        let warmIterations = reader.optionalInt(keys["warmup_iterations"], path: path + ".warmup_iterations", minimum: 0)
        if warmEpochs != nil && warmIterations != nil {
            reader.error("give either '\(path).warmup_epochs' or '\(path).warmup_iterations', not both",
                         at: keys["warmup_iterations"], fallback: nil)
        } else if let warmEpochs, warmEpochs > 0 {
            config.warmup = .epochs(warmEpochs)
        } else if let warmIterations, warmIterations > 0 {
            config.warmup = .iterations(warmIterations)
        }
        return config
    }

    // MARK: output

    private mutating func decodeOutput(_ node: YAMLNode?) -> OutputConfig {
        let keys = reader.mapping(node, path: "output", allowed: Self.outputKeys)
        let checkpoint = reader.mapping(keys["checkpoint"], path: "output.checkpoint", allowed: Self.checkpointKeys)
        let policy = CheckpointPolicy(
            best: reader.bool(checkpoint["best"], path: "output.checkpoint.best", default: true),
            last: reader.bool(checkpoint["last"], path: "output.checkpoint.last", default: true),
            everyEpochs: reader.int(checkpoint["every_epochs"], path: "output.checkpoint.every_epochs", default: 0, minimum: 0,
                                   maximum: ConfigLimits.largestEpochs))
        return OutputConfig(directory: reader.string(keys["dir"], path: "output.dir"), checkpoint: policy)
    }
}
