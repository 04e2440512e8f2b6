import Foundation

/// Turns a run-config YAML tree into a `RunConfig` by reading every key `ConfigSchema` declares, in
/// declaration order, then checking the rules that join several keys. Every problem is reported with
/// its location.
struct RunConfigDecoder {
    /// The transform names a list may use, in the order the reference lists them.
    enum TransformName: String, CaseIterable {
        case scale, normalize, resize
        case randomRotation = "random_rotation"
        case randomCrop = "random_crop"
        case horizontalFlip = "horizontal_flip"
        case verticalFlip = "vertical_flip"
        case centerCrop = "center_crop"
        case randomResizedCrop = "random_resized_crop"
        case colorJitter = "color_jitter"
    }

    static let transformNames = TransformName.allCases.map(\.rawValue)

    let reader: ValueReader

    init(reader: ValueReader = ValueReader()) { self.reader = reader }

    /// The config in `root`; problems are in `reader.diagnostics`.
    func decode(_ root: YAMLNode, configPath: String) -> RunConfig {
        var state = ConfigDecoding(reader: reader, file: configPath, configPath: configPath,
                                   config: RunConfig(name: "", configPath: configPath, modelPath: ""))
        // The pairs of every section read so far, by path; a section left out (an optional one that is off) has none.
        var sections: [String: [String: YAMLNode]] = ["": mapping(root, path: "")]
        for key in ConfigSchema.keys {
            guard let pairs = sections[key.parent] else { continue }
            let node = pairs[key.name]
            if let variant = key.variant, node != nil, !variant.takes(key.name, in: state.config) {
                refuse(key, variant: variant, chosen: variant.chosen(in: state.config), at: node)
                continue
            }
            switch key.shape {
            case .value:
                key.read(&state, node)
            case .section:
                sections[key.path] = mapping(node, path: key.path)
            case .optionalSection:
                guard let node, !node.isNull else { continue }
                key.create?(&state.config)
                sections[key.path] = mapping(node, path: key.path)
            }
        }
        checkRules(state.config, sections: sections, fileStart: state.fileStart)
        return state.config
    }

    /// The pairs of the section at `path`, allowing the keys the schema declares in it.
    private func mapping(_ node: YAMLNode?, path: String) -> [String: YAMLNode] {
        reader.mapping(node, path: path, allowed: ConfigSchema.children(of: path).map(\.name))
    }

    /// Reports a key that the chosen optimizer or schedule does not take.
    private func refuse(_ key: ConfigKey, variant: ConfigVariantFamily, chosen: String, at node: YAMLNode?) {
        let users = key.takenBy
        let message = users.isEmpty
            ? "'\(key.path)' applies to no \(variant.rawValue) cnnspec has, so not to '\(chosen)'"
            : "'\(key.path)' applies to \(ConfigSchema.enumerated(users)), not '\(chosen)'"
        reader.error(message, at: node, fallback: nil, hint: "remove it or change '\(variant.sectionPath).name'")
    }

    /// The rules that join several keys, each reported at the key that breaks it.
    private func checkRules(_ config: RunConfig, sections: [String: [String: YAMLNode]], fileStart: SourceLocation) {
        let data = sections["data"] ?? [:], train = sections["train"] ?? [:]
        let optimizer = sections["train.optimizer"] ?? [:], schedule = sections["train.schedule"] ?? [:]
        if config.data.dataset == .folder || config.data.dataset == .npy, (config.data.root ?? "").isEmpty {
            reader.error("data.dataset '\(config.data.dataset.rawValue)' needs 'data.root', the folder holding the data",
                         at: data["dataset"], fallback: fileStart,
                         hint: config.data.dataset == .folder ? "for example 'root: data/my-images' with train/<class>/*.png inside"
                                                              : "for example 'root: data/arrays' with x_train.npy, y_train.npy, x_test.npy, y_test.npy")
        }
        if config.data.dataset != .folder, config.data.testSplit != nil {
            reader.error("'data.test_split' applies to folder datasets; \(config.data.dataset.rawValue) has its own test files",
                         at: data["test_split"], fallback: fileStart, hint: "remove data.test_split")
        }
        if config.data.dataset != .folder, config.data.cacheSize != nil {
            reader.error("'data.cache_size' applies to folder datasets; \(config.data.dataset.rawValue) images have one size",
                         at: data["cache_size"], fallback: fileStart, hint: "remove data.cache_size")
        }
        if case .iterations(let iterations) = config.train.length, let epochs = train["epochs"]?.intValue,
           (1...ConfigLimits.largestEpochs).contains(epochs) {
            reader.error("give either 'train.epochs' (\(epochs)) or 'train.iterations' (\(iterations)), not both",
                         at: train["iterations"], fallback: nil)
        }
        let sgd = config.train.optimizer
        if sgd.nesterov && (sgd.momentum <= 0 || sgd.dampening != 0) {
            reader.error("'train.optimizer.nesterov' needs momentum > 0 and dampening 0 (as in PyTorch)",
                         at: optimizer["nesterov"], fallback: nil)
        }
        if ScheduleProfile.of(config.train.schedule.name).keys.contains("milestones"), schedule["milestones"] == nil {
            reader.error("schedule '\(config.train.schedule.name.rawValue)' needs 'train.schedule.milestones'",
                         at: schedule["name"], fallback: nil, hint: "for example 'milestones: [30, 80]' (epochs)")
        }
        if let epochs = schedule["warmup_epochs"], !epochs.isNull, let iterations = schedule["warmup_iterations"], !iterations.isNull {
            reader.error("give either 'train.schedule.warmup_epochs' or 'train.schedule.warmup_iterations', not both",
                         at: iterations, fallback: nil)
        }
        // A folder dataset may bring its own val/ folder, so only the built-in splits are known to be empty.
        if config.train.earlyStopping != nil, config.data.validationSplit == 0, config.data.dataset != .folder {
            reader.error("'train.early_stopping' needs a validation set, but 'data.validation_split' is 0",
                         at: train["early_stopping"], fallback: fileStart,
                         hint: "set data.validation_split (e.g. 0.1), or remove train.early_stopping")
        }
    }

    /// `path` made absolute against the folder of `configPath` (itself against the current directory).
    static func resolve(_ path: String, relativeTo configPath: String) -> String {
        if path.hasPrefix("/") { return URL(fileURLWithPath: path).standardizedFileURL.path }
        let folder = URL(fileURLWithPath: configPath).standardizedFileURL.deletingLastPathComponent()
        return folder.appendingPathComponent(path).standardizedFileURL.path
    }

    // MARK: keys read by their own code (see ConfigSchema.keys)

    static func readName(_ state: inout ConfigDecoding, _ node: YAMLNode?) {
        let stem = URL(fileURLWithPath: state.configPath).deletingPathExtension().lastPathComponent
        let name = state.reader.string(node, path: "name") ?? stem
        if let problem = folderNameProblem(name) {
            state.reader.error("'name' must be a plain folder name, but \(problem)", at: node, fallback: state.fileStart,
                               hint: "e.g. name: modelA (the run goes to runs/<name>/<timestamp>; use output.dir for another place)")
        }
        state.config.name = name
    }

    static func readModel(_ state: inout ConfigDecoding, _ node: YAMLNode?) {
        if let node { state.config.locations["model"] = node.location }
        if let node, case .mapping = node {
            let keys = state.reader.mapping(node, path: "model", allowed: ["file", "args"])
            if let file = state.reader.string(keys["file"], path: "model.file"), !file.isEmpty {
                state.config.modelPath = resolve(file, relativeTo: state.configPath)
            } else if !state.reader.isMisspelt("file", in: "model") {
                state.reader.error("'model' needs 'file', the model spec", at: keys["file"] ?? node, fallback: nil,
                                   hint: "for example model: {file: ../models/mobilenet_v2.yaml, args: {classes: 5}}")
            }
            guard let args = keys["args"], !args.isNull else { return }
            guard case .mapping(let pairs, _) = args else {
                state.reader.error("'model.args' must be a mapping of the model's argument names to values, found \(args.kindDescription)",
                                   at: args, fallback: nil, hint: "for example args: {classes: 5}")
                return
            }
            for (key, value) in pairs {
                guard let name = key.scalarText, !key.isNull else {
                    state.reader.error("'model.args' keys must be argument names, found \(key.kindDescription)", at: key, fallback: nil)
                    continue
                }
                state.config.modelArguments.append(ModelArgument(name: name, node: value, location: key.location))
            }
            return
        }
        if let model = state.reader.string(node, path: "model"), !model.isEmpty {
            state.config.modelPath = resolve(model, relativeTo: state.configPath)
        } else if node == nil || node?.isNull == true {
            state.reader.error("the config names no model spec", at: node, fallback: state.fileStart,
                               hint: "add 'model: ../models/modelA.yaml' (a path relative to this config file)")
        }
    }

    /// `data.root`: made absolute against the config file's folder, as `model:` is, so error messages
    /// and the run folder's config name the folder actually used.
    static func readDataRoot(_ state: inout ConfigDecoding, _ node: YAMLNode?) {
        guard let text = state.reader.string(node, path: "data.root") else { return }
        guard !text.isEmpty else {
            state.reader.error("'data.root' is empty text", at: node, fallback: nil,
                               hint: "give a folder (relative to this config file), or write null (~) or leave the key out for the default")
            return
        }
        let expanded = (text as NSString).expandingTildeInPath
        state.config.data.root = resolve(expanded, relativeTo: state.configPath)
    }

    /// A transform list; nil when absent or null (the caller's default applies).
    static func transforms(_ node: YAMLNode?, path: String, state: ConfigDecoding) -> [TransformSpec]? {
        // Folder and array datasets take their channel count from the files or the model: allow 1 or 3 values.
        let dataset = state.config.data.dataset
        let channels = dataset == .mnist || dataset == .fashionMNIST ? 1 : 3
        return RunConfigDecoder(reader: state.reader).decodeTransforms(node, path: path, channels: channels)
    }

    static func readBetas(_ state: inout ConfigDecoding, _ node: YAMLNode?) {
        let path = "train.optimizer.betas"
        guard let betas = state.reader.doubles(node, path: path, range: 0...1, excludingLower: false) else { return }
        if betas.count == 2 && betas.allSatisfy({ $0 < 1 }) {
            state.config.train.optimizer.beta1 = betas[0]; state.config.train.optimizer.beta2 = betas[1]
        } else {
            state.reader.error("'\(path)' must be two numbers in [0, 1), e.g. [0.9, 0.999]", at: node, fallback: nil)
        }
    }

    static func readMilestones(_ state: inout ConfigDecoding, _ node: YAMLNode?) {
        let path = "train.schedule.milestones"
        guard let milestones = state.reader.ints(node, path: path, minimum: 1) else { return }
        if milestones != milestones.sorted() || Set(milestones).count != milestones.count {
            state.reader.error("'\(path)' must increase strictly", at: node, fallback: nil)
        }
        state.config.train.schedule.milestones = milestones
    }

    /// `warmup_epochs` or `warmup_iterations`: 0 means none.
    static func readWarmup(_ node: YAMLNode?, path: String, state: inout ConfigDecoding, _ make: (Int) -> Warmup) {
        if let count = state.reader.optionalInt(node, path: path, minimum: 0), count > 0 {
            state.config.train.schedule.warmup = make(count)
        }
    }

    static func readLayerBackends(_ state: inout ConfigDecoding, _ node: YAMLNode?) {
        guard let node, !node.isNull else { return }
        guard case .mapping(let pairs, _) = node else {
            state.reader.error("'train.layer_backends' must map layer names to backends, found \(node.kindDescription)",
                               at: node, fallback: nil, hint: "for example {cnn1: im2col, cnn2: direct}")
            return
        }
        for (key, value) in pairs {
            guard let layer = key.scalarText else { continue }
            let chosen = state.reader.choice(value, path: "train.layer_backends.\(layer)", default: BackendRequest.auto)
            state.config.train.layerBackends.append(LayerBackend(layer: layer, backend: chosen, location: key.location))
        }
    }

    /// Longest `checkpoint_every` text considered; anything longer is a mistake, not a duration.
    private static let longestIntervalText = 20

    static func readCheckpointEvery(_ state: inout ConfigDecoding, _ node: YAMLNode?) {
        let path = "train.checkpoint_every"
        guard let text = state.reader.string(node, path: path) else { return }
        guard let interval = CheckpointInterval(text: text), text.count < longestIntervalText else {
            state.reader.error("'\(path)' cannot be '\(text)'", at: node, fallback: nil,
                               hint: "a number of iterations (500), a duration (300s, 5m, 1h; at most a week) or off")
            return
        }
        if case .iterations(let count) = interval, count > ConfigLimits.largestCount {
            state.reader.error("'\(path)' must be in 1...\(ConfigLimits.largestCount) iterations, found \(count)",
                               at: node, fallback: nil)
        } else {
            state.config.train.checkpointEvery = interval
        }
    }

    /// The keys of `train.init` written as a mapping.
    static let initKeys = ["checkpoint", "strict", "exclude", "key"]

    /// `train.init`: a checkpoint path, or {checkpoint, strict, exclude, key}.
    static func readInit(_ state: inout ConfigDecoding, _ node: YAMLNode?) {
        let reader = state.reader
        guard let node, !node.isNull else { return }
        if node.scalarText != nil, let path = reader.string(node, path: "train.init") {
            state.config.train.initialization = InitialWeights(checkpoint: path)
            return
        }
        let keys = reader.mapping(node, path: "train.init", allowed: initKeys)
        guard case .mapping = node else { return }
        guard let path = reader.string(keys["checkpoint"], path: "train.init.checkpoint"), !path.isEmpty else {
            if keys["checkpoint"] == nil && reader.isMisspelt("checkpoint", in: "train.init") { return }
            reader.error("'train.init' needs 'checkpoint', the safetensors or PyTorch .pth file to start from", at: node, fallback: nil,
                         hint: "for example 'init: {checkpoint: runs/base/last.safetensors, exclude: [fc1]}'")
            return
        }
        let strict = reader.bool(keys["strict"], path: "train.init.strict", default: true)
        let exclude = names(keys["exclude"], path: "train.init.exclude", state: &state) ?? []
        let key = reader.string(keys["key"], path: "train.init.key")
        state.config.train.initialization = InitialWeights(checkpoint: path, strict: strict, exclude: exclude, key: key)
    }

    /// A list of layer names, prefixes or globs (a single one is accepted as a one-item list); where each
    /// entry was written is kept in `config.locations` as `path[i]`, for errors found against the model.
    static func names(_ node: YAMLNode?, path: String, state: inout ConfigDecoding) -> [String]? {
        guard let node, !node.isNull else { return nil }
        let items: [YAMLNode]
        if node.scalarText != nil { items = [node] } else {
            guard case .sequence(let list, _) = node else {
                state.reader.error("'\(path)' must be a list of layer names, found \(node.kindDescription)", at: node, fallback: nil,
                                   hint: "for example [cnn1, cnn2], [layer1, layer2] or ['features.*']")
                return nil
            }
            items = list
        }
        var names: [String] = []
        for item in items {
            guard let name = state.reader.string(item, path: path) else { continue }
            guard !name.isEmpty else {
                state.reader.error("'\(path)' holds an empty name", at: item, fallback: nil, hint: "remove it, or name a layer")
                continue
            }
            state.config.locations["\(path)[\(names.count)]"] = item.location
            names.append(name)
        }
        return names
    }

    // MARK: transforms

    func decodeTransforms(_ node: YAMLNode?, path: String, channels: Int) -> [TransformSpec]? {
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
            case .resize, .resizeShorter, .centerCrop, .randomResizedCrop, .randomRotation, .randomCrop, .horizontalFlip,
                 .verticalFlip, .colorJitter:
                if scaleSeen {
                    reader.error("'\(itemPath)': \(name) must come before scale", at: item, fallback: nil,
                                 hint: "geometric and colour transforms work on the 8-bit image, as torchvision's do on PIL images before ToTensor()")
                }
            }
            transforms.append(transform)
        }
        return transforms
    }

    /// The transform's name, the node naming it, and its argument (nil for the short form `- scale`).
    func transformParts(_ item: YAMLNode, path: String) -> (String, YAMLNode, YAMLNode?)? {
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

    func decodeTransform(_ text: String, nameNode: YAMLNode, argument: YAMLNode?, path: String,
                                          channels: Int) -> TransformSpec? {
        guard let name = TransformName(rawValue: text) else { return nil }  // transformParts accepted only known names
        switch name {
        case .scale:
            if let argument {
                reader.error("'\(path)': scale takes no value", at: argument, fallback: nil, hint: "write '- scale'")
                return nil
            }
            return .scale
        case .normalize:
            return decodeNormalize(argument, path: path + ".normalize", channels: channels, at: nameNode)
        case .resize:
            // torchvision: Resize(256) sets the shorter side, Resize((h, w)) the exact size.
            guard let size = decodeSize(argument, path: path + ".resize", at: nameNode) else { return nil }
            return size.single ? .resizeShorter(size: size.0) : .resize(height: size.0, width: size.1)
        case .centerCrop:
            guard let size = decodeSize(argument, path: path + ".center_crop", at: nameNode) else { return nil }
            return .centerCrop(height: size.0, width: size.1)
        case .randomResizedCrop:
            return decodeRandomResizedCrop(argument, path: path + ".random_resized_crop", at: nameNode)
        case .colorJitter:
            return decodeColorJitter(argument, path: path + ".color_jitter", at: nameNode)
        case .verticalFlip:
            var value = argument
            if let argument, case .mapping = argument {
                value = reader.mapping(argument, path: path + ".vertical_flip", allowed: ["p"])["p"]
            }
            return .verticalFlip(probability: reader.double(value, path: path + ".vertical_flip", default: 0.5, range: 0...1))
        case .randomRotation:
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
        case .randomCrop:
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
        case .horizontalFlip:
            var value = argument
            if let argument, case .mapping = argument {
                value = reader.mapping(argument, path: path + ".horizontal_flip", allowed: ["p"])["p"]
            }
            let p = reader.double(value, path: path + ".horizontal_flip", default: 0.5, range: 0...1)
            return .horizontalFlip(probability: p)
        }
    }

    func decodeNormalize(_ node: YAMLNode?, path: String, channels: Int, at nameNode: YAMLNode)
        -> TransformSpec? {
        guard let node else { return .normalize(.auto) }
        if let text = node.scalarText {
            if text == "auto" { return .normalize(.auto) }
            if text == "imagenet" {
                guard channels == 3 else {
                    reader.error("'\(path)': imagenet statistics are for RGB images, but these have \(channels) channel", at: node,
                                 fallback: nil, hint: "use 'normalize: auto' or {mean: [...], std: [...]}")
                    return nil
                }
                return .normalize(.imagenet)
            }
            reader.error("'\(path)' must be 'auto', 'imagenet' or {mean: [...], std: [...]}, found \(node.kindDescription)",
                         at: node, fallback: nil, hint: "for MNIST: 'normalize: {mean: [0.1307], std: [0.3081]}'; for pretrained torchvision models: 'normalize: imagenet'")
            return nil
        }
        let keys = reader.mapping(node, path: path, allowed: ["mean", "std"])
        guard case .mapping = node else { return nil }
        let mean = reader.doubles(keys["mean"], path: path + ".mean", range: -1e6...1e6)
        let std = reader.doubles(keys["std"], path: path + ".std", range: 0...1e6, excludingLower: true)
        for key in ["mean", "std"] where keys[key] == nil && !reader.isMisspelt(key, in: path) {
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

    /// `random_resized_crop: 224` or `{size: 224, scale: [0.08, 1], ratio: [0.75, 1.333]}`.
    func decodeRandomResizedCrop(_ argument: YAMLNode?, path: String, at nameNode: YAMLNode) -> TransformSpec? {
        var sizeNode = argument
        var scale = RandomResizedCropSpec.defaultScale, ratio = RandomResizedCropSpec.defaultRatio
        if let argument, case .mapping = argument {
            let keys = reader.mapping(argument, path: path, allowed: ["size", "scale", "ratio"])
            sizeNode = keys["size"]
            if let node = keys["scale"], let range = decodeRange(node, path: path + ".scale", within: 0...1, excludingZero: true,
                                                                 hint: "fractions of the picture's area, e.g. [0.08, 1]") {
                scale = range
            }
            if let node = keys["ratio"], let range = decodeRange(node, path: path + ".ratio", within: 0...Self.largestAspectRatio,
                                                                 excludingZero: true, hint: "width/height, e.g. [0.75, 1.3333]") {
                ratio = range
            }
        }
        guard let size = decodeSize(sizeNode, path: path + ".size", at: nameNode) else { return nil }
        return .randomResizedCrop(RandomResizedCropSpec(height: size.0, width: size.1, scale: scale, ratio: ratio))
    }

    /// Widest aspect ratio `random_resized_crop` accepts (a typo guard: photos are far from it).
    static let largestAspectRatio = 100.0

    /// `color_jitter: {brightness: 0.4, contrast: [0.6, 1.4], saturation: 0.4, hue: 0.1}`: a number v
    /// means [max(0, 1 − v), 1 + v] (hue: [−v, v]), as torchvision's ColorJitter.
    func decodeColorJitter(_ argument: YAMLNode?, path: String, at nameNode: YAMLNode) -> TransformSpec? {
        let names = ["brightness", "contrast", "saturation", "hue"]
        guard let argument, case .mapping = argument else {
            reader.error("'\(path)' needs a mapping of the adjustments", at: argument ?? nameNode, fallback: nil,
                         hint: "for example 'color_jitter: {brightness: 0.4, contrast: 0.4, saturation: 0.4, hue: 0.1}'")
            return nil
        }
        let keys = reader.mapping(argument, path: path, allowed: names)
        var ranges: [String: ClosedRange<Double>] = [:]
        for name in names {
            guard let node = keys[name], !node.isNull else { continue }
            let keyPath = path + "." + name
            let isHue = name == "hue"
            if node.scalarText != nil {
                let limit = isHue ? ColorJitterSpec.largestHue : Self.largestJitterFactor
                guard let value = reader.optionalDouble(node, path: keyPath, range: 0...limit) else { continue }
                if value > 0 { ranges[name] = isHue ? -value...value : max(0, 1 - value)...(1 + value) }
            } else {
                let bounds = isHue ? -ColorJitterSpec.largestHue...ColorJitterSpec.largestHue : 0...Self.largestJitterFactor
                if let range = decodeRange(node, path: keyPath, within: bounds, excludingZero: false,
                                           hint: isHue ? "[min, max] within [-0.5, 0.5]" : "[min, max] factors ≥ 0, 1 = unchanged") {
                    ranges[name] = range
                }
            }
        }
        return .colorJitter(ColorJitterSpec(brightness: ranges["brightness"], contrast: ranges["contrast"],
                                            saturation: ranges["saturation"], hue: ranges["hue"]))
    }

    /// Largest brightness/contrast/saturation factor accepted (a typo guard; 1 is unchanged).
    static let largestJitterFactor = 100.0

    /// `[min, max]` within `bounds` with min ≤ max (min > 0 when `excludingZero`).
    func decodeRange(_ node: YAMLNode, path: String, within bounds: ClosedRange<Double>, excludingZero: Bool,
                     hint: String) -> ClosedRange<Double>? {
        guard let values = reader.doubles(node, path: path, range: bounds, excludingLower: excludingZero) else { return nil }
        guard values.count == 2, values[0] <= values[1] else {
            reader.error("'\(path)' must be [min, max] with min ≤ max", at: node, fallback: nil, hint: hint)
            return nil
        }
        return values[0]...values[1]
    }

    /// A size written `32` (`single`: torchvision's int form) or `[32, 28]` (height, width).
    func decodeSize(_ node: YAMLNode?, path: String, at nameNode: YAMLNode) -> (Int, Int, single: Bool)? {
        guard let node, !node.isNull else {
            reader.error("'\(path)' needs a size", at: nameNode, fallback: nil, hint: "write 32 or [height, width]")
            return nil
        }
        guard let values = reader.ints(node, path: path, minimum: 1, maximum: ConfigLimits.largestImageSide) else { return nil }
        switch values.count {
        case 1: return (values[0], values[0], true)
        case 2: return (values[0], values[1], false)
        default:
            reader.error("'\(path)' must be one number or [height, width], found \(values.count) numbers",
                         at: node, fallback: nil)
            return nil
        }
    }

}
