import Foundation

/// A training run, fully resolved: every key of the run-config YAML with its default filled in.
///
/// Produced by `RunConfigLoader.load(path:overrides:)`; written back with `yamlText` into the run
/// folder, identified by `hash`. The schema is documented in docs/run-config.md.
public struct RunConfig: Hashable, Sendable {
    /// The run's name: the `name` key, else the config file name without its extension.
    public var name: String
    /// The config file this was loaded from, as given.
    public var configPath: String
    /// The model spec, resolved against the config file's folder.
    public var modelPath: String
    /// Values for the model file's top-level `args:` (`model: {file: …, args: {classes: 5}}`), in the order given.
    public var modelArguments: [ModelArgument] = []
    public var data: DataConfig
    public var train: TrainConfig
    public var output: OutputConfig
    /// Where list entries checked against the model were written (`train.freeze[0]`), for located errors.
    public var locations = KeyLocations()

    public init(name: String, configPath: String, modelPath: String, data: DataConfig = DataConfig(),
                train: TrainConfig = TrainConfig(), output: OutputConfig = OutputConfig()) {
        self.name = name; self.configPath = configPath; self.modelPath = modelPath
        self.data = data; self.train = train; self.output = output
    }
}

/// The datasets cnnspec can load.
public enum DatasetName: String, Hashable, Sendable, CaseIterable {
    case mnist
    case fashionMNIST = "fashion-mnist"
    case cifar10
    /// An image folder in torchvision's ImageFolder layout (`root/train/<class>/*.png|jpg…`, `root/test/…`).
    case folder
    /// NumPy arrays `x_train.npy`, `y_train.npy`, `x_test.npy`, `y_test.npy` in `root`.
    case npy
}

/// What to do with an image file in a folder dataset that cannot be decoded.
public enum BadFilePolicy: String, Hashable, Sendable, CaseIterable {
    /// List every bad file and stop before training.
    case error
    /// List every bad file and train without them.
    case skip
}

/// Where the data comes from and how each sample is transformed.
public struct DataConfig: Hashable, Sendable {
    public var dataset: DatasetName
    /// Folder holding the dataset files, made absolute against the config file's folder (as `model:`);
    /// nil searches `data/<dataset>` (current directory), then system folders.
    public var root: String?
    /// Fraction of the training file held out for validation, in [0, 1).
    public var validationSplit: Double
    /// Seed of the train/validation split; nil uses `train.seed`.
    public var splitSeed: Int?
    /// Transforms applied to training samples, in order.
    public var trainTransforms: [TransformSpec]
    /// Transforms applied to validation and test samples, in order.
    public var evalTransforms: [TransformSpec]
    /// Reshuffle the training samples every epoch; false replays the file order.
    public var shuffle: Bool
    /// Folder datasets: skip or refuse undecodable files.
    public var onBadFile: BadFilePolicy
    /// Folder datasets without a `test/` folder: the fraction of `train/` held out as the test set;
    /// nil = `FolderDataset.defaultTestSplit` when there is no `test/` folder.
    public var testSplit: Double? = nil
    /// Folder datasets whose pictures keep their own size: store them with this shorter side (PIL
    /// bilinear, as `resize: N`) instead of their full size; nil = full size.
    public var cacheSize: Int? = nil

    public init(dataset: DatasetName = .mnist, root: String? = nil, validationSplit: Double = 0.1,
                splitSeed: Int? = nil, trainTransforms: [TransformSpec] = [.scale],
                evalTransforms: [TransformSpec] = [.scale], shuffle: Bool = true, onBadFile: BadFilePolicy = .error) {
        self.dataset = dataset; self.root = root; self.validationSplit = validationSplit
        self.splitSeed = splitSeed; self.trainTransforms = trainTransforms; self.evalTransforms = evalTransforms
        self.shuffle = shuffle; self.onBadFile = onBadFile
    }
}

/// One step of a sample's transform pipeline (torchvision semantics).
///
/// Geometric steps work on the 8-bit image, as torchvision does on PIL images before `ToTensor()`;
/// `scale` is `ToTensor()`'s division by 255 and `normalize` follows it.
public enum TransformSpec: Hashable, Sendable {
    /// Divide by 255 (torchvision `ToTensor()`).
    case scale
    /// `(x − mean[c]) / std[c]` (torchvision `Normalize`).
    case normalize(NormalizeSpec)
    /// PIL bilinear resize of the 8-bit image to `height`×`width` (torchvision `Resize((h, w))`).
    case resize(height: Int, width: Int)
    /// PIL bilinear resize (with PIL's antialiasing when shrinking, torchvision's default for PIL
    /// images) so that the shorter side becomes `size` and the longer `int(size · long / short)`
    /// (torchvision `Resize(size)` with an int).
    case resizeShorter(size: Int)
    /// The central `height`×`width` box, zero-padded first where the image is smaller
    /// (torchvision `CenterCrop((h, w))`).
    case centerCrop(height: Int, width: Int)
    /// A random box of `scale` of the area and `ratio` aspect (w/h, log-uniform), resized to
    /// `height`×`width` (torchvision `RandomResizedCrop`, with its 10 tries and central fallback).
    case randomResizedCrop(RandomResizedCropSpec)
    /// Brightness, contrast, saturation and hue changed by random factors, in a random order
    /// (torchvision `ColorJitter` on PIL images).
    case colorJitter(ColorJitterSpec)
    /// Mirror top–bottom with probability `probability` (torchvision `RandomVerticalFlip(p)`).
    case verticalFlip(probability: Double)
    /// Rotate by an angle drawn uniformly from [−degrees, degrees], nearest neighbour, fill 0
    /// (torchvision `RandomRotation(degrees, fill=0)`).
    case randomRotation(degrees: Double)
    /// Zero-pad by `padding` on every side, then crop `height`×`width` at a random place
    /// (torchvision `RandomCrop(size, padding)`).
    case randomCrop(height: Int, width: Int, padding: Int)
    /// Mirror left–right with probability `probability` (torchvision `RandomHorizontalFlip(p)`).
    case horizontalFlip(probability: Double)

    /// True for steps that draw random numbers.
    public var isRandom: Bool {
        switch self {
        case .randomRotation, .randomCrop, .horizontalFlip, .randomResizedCrop, .colorJitter, .verticalFlip: return true
        case .scale, .normalize, .resize, .resizeShorter, .centerCrop: return false
        }
    }

    /// True for steps that give every picture the same size whatever size it came in (after which
    /// the list's output shape is fixed).
    public var fixesSize: Bool {
        switch self {
        case .resize, .centerCrop, .randomResizedCrop, .randomCrop: return true
        case .scale, .normalize, .resizeShorter, .randomRotation, .horizontalFlip, .colorJitter, .verticalFlip: return false
        }
    }

    /// True for steps that change the picture's size (some lists of a folder dataset use them: then
    /// its pictures are kept at their own size, see `FolderDataset`).
    public var setsSize: Bool {
        switch self {
        case .resize, .resizeShorter, .centerCrop, .randomResizedCrop: return true
        case .scale, .normalize, .randomCrop, .randomRotation, .horizontalFlip, .colorJitter, .verticalFlip: return false
        }
    }
}

/// torchvision `RandomResizedCrop(size, scale, ratio)` (bilinear, PIL antialias).
public struct RandomResizedCropSpec: Hashable, Sendable {
    public var height: Int
    public var width: Int
    /// Range of the crop's area as a fraction of the picture's: torchvision's default (0.08, 1).
    public var scale: ClosedRange<Double>
    /// Range of the crop's aspect ratio width/height, drawn log-uniformly: default (3/4, 4/3).
    public var ratio: ClosedRange<Double>

    public static let defaultScale: ClosedRange<Double> = 0.08...1
    public static let defaultRatio: ClosedRange<Double> = (3.0 / 4)...(4.0 / 3)

    public init(height: Int, width: Int, scale: ClosedRange<Double> = Self.defaultScale,
                ratio: ClosedRange<Double> = Self.defaultRatio) {
        self.height = height; self.width = width; self.scale = scale; self.ratio = ratio
    }
}

/// torchvision `ColorJitter`: each factor range, nil when that adjustment is off. Brightness, contrast
/// and saturation factors multiply (1 = unchanged); hue shifts by a fraction of the colour circle.
public struct ColorJitterSpec: Hashable, Sendable {
    public var brightness: ClosedRange<Double>?
    public var contrast: ClosedRange<Double>?
    public var saturation: ClosedRange<Double>?
    public var hue: ClosedRange<Double>?

    /// Hue shifts are at most half the colour circle either way (torchvision's limit).
    public static let largestHue = 0.5

    public init(brightness: ClosedRange<Double>? = nil, contrast: ClosedRange<Double>? = nil,
                saturation: ClosedRange<Double>? = nil, hue: ClosedRange<Double>? = nil) {
        self.brightness = brightness; self.contrast = contrast; self.saturation = saturation; self.hue = hue
    }
}

/// The mean and standard deviation of `normalize`.
public enum NormalizeSpec: Hashable, Sendable {
    /// Computed per channel over the whole training file after `scale` (mean and unbiased std, as
    /// `train_data.data.float().mean() / 255` and `.std() / 255` in the Fashion-MNIST tutorial).
    case auto
    /// Given per channel; a single value applies to every channel.
    case fixed(mean: [Double], std: [Double])

    /// `normalize: imagenet`: the ImageNet statistics every torchvision pretrained model expects.
    public static let imagenet = NormalizeSpec.fixed(mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225])
}

/// The training recipe.
public struct TrainConfig: Hashable, Sendable {
    public var batchSize: Int
    /// Batch size for validation and test passes.
    public var evalBatchSize: Int
    public var length: TrainingLength
    public var optimizer: OptimizerConfig
    public var schedule: ScheduleConfig
    /// Evaluate on the validation set every this many iterations; nil means never mid-epoch.
    public var evalEveryIterations: Int?
    /// Evaluate on the validation set at the end of every epoch.
    public var evalEveryEpoch: Bool
    /// Seed of initialisation, shuffling, augmentation and (unless `data.split_seed`) the split.
    public var seed: Int
    /// Worker threads; 0 uses every core.
    public var threads: Int
    /// Convolution backend for every conv layer unless a layer override or the model spec says otherwise.
    public var backend: BackendRequest
    /// Per-layer backend overrides, in file order.
    public var layerBackends: [LayerBackend]
    /// How often resume state is saved inside an epoch, so a kill loses at most this much work.
    public var checkpointEvery: CheckpointInterval = .default
    /// Weights to start from instead of the seeded initialisation.
    public var initialization: InitialWeights?
    /// Layers whose parameters stay fixed during training (fine-tuning).
    public var freeze: [String]
    /// Let the execution plan fuse layers that run back to back (ReLU into pooling, …); false runs every
    /// layer on its own, for debugging and the fused-equals-unfused tests.
    public var fuse: Bool = true
    /// `train.allreduce_bucket_mb`: in a data-parallel run, gradients are all-reduced in buckets of about
    /// this many megabytes (2^20 bytes) as backward produces them (PyTorch DDP's `bucket_cap_mb`, whose
    /// default this is): large enough that a bucket's latency is small against its transfer, small enough
    /// that the reduction of the last layers overlaps the backward pass of the first.
    public var allreduceBucketMB: Double = 25
    /// `train.clip_grad_norm`: rescale all gradients together so that their global L2 norm is at most
    /// this (PyTorch `clip_grad_norm_(params, max_norm)`); nil = no clipping.
    public var clipGradNorm: Double? = nil
    /// `train.clip_grad_value`: clamp every gradient element to [−v, v] (PyTorch `clip_grad_value_`);
    /// nil = no clamping. Applied before `clipGradNorm` when both are set.
    public var clipGradValue: Double? = nil
    /// `train.label_smoothing`: cross-entropy against (1 − ε)·one-hot + ε/K (PyTorch's
    /// `CrossEntropyLoss(label_smoothing=ε)`), in [0, 1].
    public var labelSmoothing: Double = 0
    /// `train.early_stopping`: stop when a validation metric stops improving; nil = never.
    public var earlyStopping: EarlyStoppingConfig? = nil
    /// `train.log_every`: training loss and accuracy are written to metrics.csv every this many
    /// iterations; nil = about `MetricsCadence.targetPoints` points over the run.
    public var logEvery: Int? = nil

    public init(batchSize: Int = 64, evalBatchSize: Int? = nil, length: TrainingLength = .epochs(10),
                optimizer: OptimizerConfig = OptimizerConfig(), schedule: ScheduleConfig = ScheduleConfig(),
                evalEveryIterations: Int? = nil, evalEveryEpoch: Bool = true, seed: Int = 0, threads: Int = 0,
                backend: BackendRequest = .auto, layerBackends: [LayerBackend] = []) {
        self.batchSize = batchSize; self.evalBatchSize = evalBatchSize ?? batchSize; self.length = length
        self.optimizer = optimizer; self.schedule = schedule; self.evalEveryIterations = evalEveryIterations
        self.evalEveryEpoch = evalEveryEpoch; self.seed = seed; self.threads = threads
        self.backend = backend; self.layerBackends = layerBackends
        initialization = nil; freeze = []
    }
}

/// A validation metric that early stopping and `reduce_on_plateau` watch.
public enum MonitoredMetric: String, Hashable, Sendable, CaseIterable {
    case validationLoss = "validation_loss"
    case validationAccuracy = "validation_accuracy"

    /// True when a larger value is better (accuracy), false when smaller is (loss).
    public var higherIsBetter: Bool { self == .validationAccuracy }
}

/// `train.early_stopping` (Keras `EarlyStopping` / Lightning's callback semantics): after each validation
/// pass, the metric improves when it beats the best so far by more than `minDelta`; training stops after
/// `patience` validations in a row without improvement.
public struct EarlyStoppingConfig: Hashable, Sendable {
    public var metric: MonitoredMetric
    public var patience: Int
    public var minDelta: Double

    public init(metric: MonitoredMetric = .validationLoss, patience: Int = 3, minDelta: Double = 0) {
        self.metric = metric; self.patience = patience; self.minDelta = minDelta
    }
}

/// `train.init`: a checkpoint whose tensors replace the initial weights.
public struct InitialWeights: Hashable, Sendable {
    /// The checkpoint file, as given (relative to the current directory): safetensors, or a PyTorch `torch.save` file.
    public var checkpoint: String
    /// True: every tensor the model has must be in the file with its shape. False: missing or
    /// mismatched tensors are listed and keep their seeded initialisation.
    public var strict: Bool
    /// Layers (or tensor names) not taken from the file, e.g. a new classifier `fc1`.
    public var exclude: [String]
    /// The entry of a PyTorch checkpoint dict that holds the state_dict (`train.init.key`); nil: the dict
    /// itself when it holds tensors, else its `state_dict`, `model_state_dict` or `model` entry.
    public var key: String?

    public init(checkpoint: String, strict: Bool = true, exclude: [String] = [], key: String? = nil) {
        self.checkpoint = checkpoint; self.strict = strict; self.exclude = exclude; self.key = key
    }
}

/// How often `resume.safetensors` is saved during training (besides every epoch end and on a stop).
public enum CheckpointInterval: Hashable, Sendable, CustomStringConvertible {
    /// Every this many iterations (optimizer steps).
    case iterations(Int)
    /// Whenever this many seconds of wall time have passed since the last save.
    case seconds(Int)
    /// Only at epoch ends and on a stop.
    case never

    /// Five minutes: a save of Model A's state takes milliseconds, and even a VGG-sized one (1.6 GB
    /// of parameters and optimizer state) a few seconds, so this costs well under 1 % of the time
    /// while a kill loses at most five minutes.
    public static let `default` = CheckpointInterval.seconds(300)
    /// Longest duration accepted: one week.
    public static let largestSeconds = 7 * 24 * 3600

    /// As written in YAML: `300s`, `5m`, `1h`, `500` (iterations) or `off`.
    public var description: String {
        switch self {
        case .iterations(let count): return "\(count)"
        case .seconds(let seconds):
            if seconds % 3600 == 0 { return "\(seconds / 3600)h" }
            if seconds % 60 == 0 { return "\(seconds / 60)m" }
            return "\(seconds)s"
        case .never: return "off"
        }
    }

    /// Reads `300s`, `5m`, `2h`, a plain count of iterations, or `off`; nil when malformed.
    public init?(text: String) {
        let trimmed = text.trimmingCharacters(in: .whitespaces).lowercased()
        if trimmed == "off" || trimmed == "0" { self = .never; return }
        if let count = Int(trimmed), count > 0 { self = .iterations(count); return }
        let units: [Character: Int] = ["s": 1, "m": 60, "h": 3600]
        guard let unit = trimmed.last, let factor = units[unit], let value = Int(trimmed.dropLast()), value > 0,
              value <= Self.largestSeconds / factor else { return nil }
        self = .seconds(value * factor)
    }
}

/// Whether `name` can name a run folder (`runs/<name>/…`) or a sweep folder: a plain folder name with
/// no path separator, no leading dot (so no `..`) and no control characters (newlines). Returns the problem.
public func folderNameProblem(_ name: String) -> String? {
    if name.isEmpty { return "it is empty" }
    if name.contains("/") { return "it contains '/'" }
    if name.hasPrefix(".") { return "it starts with '.'" }
    if name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
        return "it contains a control character (e.g. a newline)"
    }
    if name.utf8.count > 200 { return "it is longer than 200 bytes" }
    return nil
}

/// How long to train: whole epochs, or a number of optimizer steps (batches).
public enum TrainingLength: Hashable, Sendable {
    case epochs(Int)
    case iterations(Int)
}

/// A backend chosen for one named layer of the model spec.
public struct LayerBackend: Hashable, Sendable {
    public var layer: String
    public var backend: BackendRequest
    /// Where the override was written, for "no such layer" errors.
    public var location: SourceLocation?

    public init(layer: String, backend: BackendRequest, location: SourceLocation? = nil) {
        self.layer = layer; self.backend = backend; self.location = location
    }

    /// Equal when layer and backend agree, wherever they were written.
    public static func == (lhs: LayerBackend, rhs: LayerBackend) -> Bool {
        lhs.layer == rhs.layer && lhs.backend == rhs.backend
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(layer)
        hasher.combine(backend)
    }
}

/// The optimizers cnnspec implements.
public enum OptimizerName: String, Hashable, Sendable, CaseIterable {
    case sgd, adam, adamw, rmsprop
}

/// Optimizer hyperparameters with PyTorch's names and defaults (the YAML keys are declared in
/// `ConfigSchema`; which optimizer takes which key in `OptimizerProfile`).
public struct OptimizerConfig: Hashable, Sendable {
    public var name: OptimizerName
    public var learningRate: Double
    /// SGD and RMSprop.
    public var momentum: Double
    /// SGD only.
    public var dampening: Double
    /// SGD only.
    public var nesterov: Bool
    /// L2 penalty (SGD, Adam) or decoupled decay (AdamW).
    public var weightDecay: Double
    /// Adam/AdamW only.
    public var betas: (Double, Double) { (beta1, beta2) }
    public var beta1: Double
    public var beta2: Double
    /// Adam/AdamW/RMSprop.
    public var eps: Double
    /// RMSprop only: smoothing constant of the squared-gradient average (PyTorch `alpha`).
    public var alpha: Double = 0.99
    /// RMSprop only: normalise by the centred second moment (an estimate of the variance).
    public var centered: Bool = false

    /// PyTorch's defaults for `name` (`lr`, `weight_decay`) come from `OptimizerProfile`.
    public init(name: OptimizerName = .sgd, learningRate: Double? = nil, momentum: Double = 0,
                dampening: Double = 0, nesterov: Bool = false, weightDecay: Double? = nil,
                beta1: Double = 0.9, beta2: Double = 0.999, eps: Double = 1e-8) {
        self.name = name
        self.learningRate = learningRate ?? OptimizerProfile.of(name).learningRate
        self.momentum = momentum; self.dampening = dampening; self.nesterov = nesterov
        self.weightDecay = weightDecay ?? OptimizerProfile.of(name).weightDecay
        self.beta1 = beta1; self.beta2 = beta2; self.eps = eps
    }
}

/// The learning-rate schedules cnnspec implements (PyTorch's: per epoch, except `one_cycle` per iteration and `reduce_on_plateau` per validation).
public enum ScheduleName: String, Hashable, Sendable, CaseIterable {
    case constant, step, multistep, exponential, cosine
    /// PyTorch `ReduceLROnPlateau`, stepped on every validation result.
    case reduceOnPlateau = "reduce_on_plateau"
    /// PyTorch `OneCycleLR`, stepped every iteration over the whole run.
    case oneCycle = "one_cycle"
}

/// Learning-rate schedule parameters with PyTorch's names.
public struct ScheduleConfig: Hashable, Sendable {
    public var name: ScheduleName
    /// `step`: decay every this many epochs.
    public var stepSize: Int
    /// `step`, `multistep`, `exponential`: decay factor.
    public var gamma: Double
    /// `multistep`: epochs at which the rate is multiplied by `gamma`.
    public var milestones: [Int]
    /// `cosine`: half-period in epochs; nil means the run's length in epochs.
    public var tMax: Int?
    /// `cosine`: the lowest rate.
    public var etaMin: Double
    /// Linear warm-up length, if any.
    public var warmup: Warmup?
    /// `reduce_on_plateau`: the validation metric watched (PyTorch's mode follows: min for loss, max for accuracy).
    public var metric: MonitoredMetric = .validationLoss
    /// `reduce_on_plateau`: the rate is multiplied by this when the metric stalls.
    public var factor: Double = 0.1
    /// `reduce_on_plateau`: validations without improvement tolerated before reducing.
    public var patience: Int = 10
    /// `reduce_on_plateau`: improvement threshold (PyTorch `threshold`, relative by default).
    public var threshold: Double = 1e-4
    /// `reduce_on_plateau`: `rel` or `abs` (PyTorch `threshold_mode`).
    public var thresholdMode: PlateauThresholdMode = .relative
    /// `reduce_on_plateau`: validations to wait after a reduction before counting again.
    public var cooldown: Int = 0
    /// `reduce_on_plateau`: lower bound of the rate (PyTorch `min_lr`).
    public var minLearningRate: Double = 0
    /// `one_cycle`: the peak rate; nil = the optimizer's `lr`.
    public var maxLearningRate: Double? = nil
    /// `one_cycle`: fraction of the run spent increasing the rate.
    public var pctStart: Double = 0.3
    /// `one_cycle`: `cos` or `linear` annealing.
    public var annealStrategy: AnnealStrategy = .cosine
    /// `one_cycle`: initial rate = max_lr / div_factor.
    public var divFactor: Double = 25
    /// `one_cycle`: final rate = initial rate / final_div_factor.
    public var finalDivFactor: Double = 1e4
    /// `one_cycle`: PyTorch's `three_phase`.
    public var threePhase: Bool = false
    /// `one_cycle`: cycle SGD momentum / Adam beta1 inversely to the rate, between `baseMomentum` and
    /// `maxMomentum` (PyTorch `cycle_momentum`, default true).
    public var cycleMomentum: Bool = true
    public var baseMomentum: Double = 0.85
    public var maxMomentum: Double = 0.95

    public init(name: ScheduleName = .constant, stepSize: Int = 10, gamma: Double = 0.1, milestones: [Int] = [],
                tMax: Int? = nil, etaMin: Double = 0, warmup: Warmup? = nil) {
        self.name = name; self.stepSize = stepSize; self.gamma = gamma; self.milestones = milestones
        self.tMax = tMax; self.etaMin = etaMin; self.warmup = warmup
    }
}

/// PyTorch `ReduceLROnPlateau(threshold_mode=…)`.
public enum PlateauThresholdMode: String, Hashable, Sendable, CaseIterable {
    case relative = "rel"
    case absolute = "abs"
}

/// PyTorch `OneCycleLR(anneal_strategy=…)`.
public enum AnnealStrategy: String, Hashable, Sendable, CaseIterable {
    case cosine = "cos"
    case linear
}

/// Linear warm-up measured in epochs or iterations.
public enum Warmup: Hashable, Sendable {
    case epochs(Int)
    case iterations(Int)
}

/// Where a run writes and what it keeps.
public struct OutputConfig: Hashable, Sendable {
    /// Run folder; nil means `runs/<name>/<timestamp>` under the current directory.
    public var directory: String?
    public var checkpoint: CheckpointPolicy
    /// `output.tensorboard`: also write the scalars as a TensorBoard event file in the run folder.
    public var tensorboard: Bool = false

    public init(directory: String? = nil, checkpoint: CheckpointPolicy = CheckpointPolicy()) {
        self.directory = directory; self.checkpoint = checkpoint
    }
}

/// Which checkpoints a run writes.
public struct CheckpointPolicy: Hashable, Sendable {
    /// `best.safetensors`: the weights with the lowest validation loss so far.
    public var best: Bool
    /// `last.safetensors`: the weights at the end of training.
    public var last: Bool
    /// `epoch-<n>.safetensors` every this many epochs; 0 disables.
    public var everyEpochs: Int

    public init(best: Bool = true, last: Bool = true, everyEpochs: Int = 0) {
        self.best = best; self.last = last; self.everyEpochs = everyEpochs
    }
}
