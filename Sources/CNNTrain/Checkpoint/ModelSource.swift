import CNNSpec
import Foundation

/// Which model and which weights a command works with (`cnnspec predict`, `cnnspec export`), resolved
/// from one path and an optional `--checkpoint`:
///
/// - a run folder: its `best.safetensors`, else `last.safetensors` (or `--checkpoint`); the model stored in
///   the checkpoint's metadata, else the folder's `config.yaml`;
/// - a run config or a model file: that model; the weights of `--checkpoint`, else none (initial weights);
/// - a `.safetensors` checkpoint: the model stored in its metadata (checkpoints written since cnnspec
///   stores it); an older checkpoint needs the run config it was trained with instead;
/// - a PyTorch `torch.save` file (told by its content): weights only, so it comes as `--checkpoint` with a
///   model file or run config; `checkpointKey` names the entry of its dict holding the state_dict.
///
/// When the checkpoint's metadata holds them, `predictionInfo` has the stored model YAML, class names,
/// raw sample shape and eval transforms, so no dataset or project directory is needed.
public struct ModelSource {
    public enum Kind: String, Sendable {
        case runFolder = "run folder", runConfig = "run config", modelFile = "model file", checkpoint
    }

    /// Checkpoints a run folder is searched for, in order, when `--checkpoint` is not given.
    public static let runFolderCheckpoints = ["best.safetensors", "last.safetensors"]
    /// What a source path may be, for hints.
    public static let validPaths = "a run folder (runs/NAME/DATE), a run config, a model file or a .safetensors checkpoint "
        + "(a PyTorch .pth file goes with a model file or config: MODEL --checkpoint FILE.pth)"

    /// The path as given.
    public var path: String
    public var kind: Kind
    public var graph: ModelGraph
    /// The model file the graph came from (for a stored model without a run config: `CHECKPOINT (stored model)`).
    public var modelFile: String
    /// The run config, when the path is a config or a run folder with `config.yaml` (its data gives the
    /// dataset for reference images and for checkpoints without prediction metadata).
    public var config: RunConfig?
    /// The weights; nil means the model's initial weights from the seed.
    public var checkpoint: URL?
    /// The entry of a PyTorch checkpoint dict holding the state_dict (`--checkpoint-key`); nil detects it.
    public var checkpointKey: String?
    /// The checkpoint's stored model, class names, sample shape and eval transforms; nil for a checkpoint
    /// older than that metadata, or without a checkpoint.
    public var predictionInfo: PredictionInfo?
    /// Whether `--set` overrides were applied to `config` (then its data, not the stored transforms, is what was asked for).
    public var overridden: Bool

    public init(path: String, kind: Kind = .modelFile, graph: ModelGraph, modelFile: String, config: RunConfig? = nil,
                checkpoint: URL? = nil, predictionInfo: PredictionInfo? = nil, overridden: Bool = false) {
        self.path = path; self.kind = kind; self.graph = graph; self.modelFile = modelFile; self.config = config
        self.checkpoint = checkpoint; self.predictionInfo = predictionInfo; self.overridden = overridden
    }

    /// The seed of the initial weights (the config's `train.seed`, else 0 as for a model file).
    public var seed: UInt64 { UInt64(truncatingIfNeeded: config?.train.seed ?? 0) }

    /// Resolves `path` (a run folder, run config, model file or `.safetensors` checkpoint) and the checkpoint
    /// (`checkpoint` when given, else a run folder's best then last, else a checkpoint path itself, else none).
    /// `overrides` (`key.path=value`) apply to the run config. Problems are `UserError`s naming the path and
    /// what would be valid, `SpecError`s of the YAML, or `CheckpointError`s of the checkpoint file.
    public static func resolve(path: String, checkpoint: String? = nil, checkpointKey: String? = nil,
                               overrides: [String] = []) throws -> ModelSource {
        var source = try resolveSource(path: path, checkpoint: checkpoint, overrides: overrides)
        source.checkpointKey = checkpointKey
        if let url = source.checkpoint, checkpointKey != nil || CheckpointFile.format(of: url) == .pytorch {
            _ = try CheckpointFile.read(from: url, key: checkpointKey)  // a bad file or key is said before any work
        }
        return source
    }

    private static func resolveSource(path: String, checkpoint: String?, overrides: [String]) throws -> ModelSource {
        let files = FileManager.default
        var isDirectory: ObjCBool = false
        guard files.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw UserError("no such file or folder", file: path, hint: "give \(validPaths)")
        }
        let kind: Kind
        var checkpointURL = checkpoint.map { URL(fileURLWithPath: $0) }
        var configPath: String?
        if isDirectory.boolValue {
            kind = .runFolder
            let folder = URL(fileURLWithPath: path)
            let configURL = folder.appendingPathComponent(RunFolder.configFile)
            if files.fileExists(atPath: configURL.path) { configPath = configURL.path }
            if checkpointURL == nil {
                checkpointURL = runFolderCheckpoints.map { folder.appendingPathComponent($0) }.first { files.fileExists(atPath: $0.path) }
            }
            guard checkpointURL != nil else {
                let names = runFolderCheckpoints.joined(separator: " or ")
                guard configPath != nil else {
                    throw UserError("not a run folder (no \(RunFolder.configFile), no \(names))", file: path,
                                     hint: "give the run folder `cnnspec run` printed, a run config, a model file or a .safetensors checkpoint")
                }
                throw UserError("the run folder has no \(names)", file: path, hint: "pass --checkpoint FILE")
            }
        } else if path.hasSuffix(".safetensors") || CheckpointFile.format(of: URL(fileURLWithPath: path)) == .pytorch {
            kind = .checkpoint
            if let checkpoint, checkpoint != path {
                throw UserError("two checkpoints: \(path) and --checkpoint \(checkpoint)", file: path,
                                 hint: "give the checkpoint once, or a run config or model file with --checkpoint FILE")
            }
            checkpointURL = URL(fileURLWithPath: path)
        } else {
            let document = try YAMLParser.parse(contentsOf: path)
            kind = document["layers"] == nil && document["model"] != nil ? .runConfig : .modelFile
            if kind == .runConfig { configPath = path }
        }
        if let checkpointURL, !files.fileExists(atPath: checkpointURL.path) {
            throw UserError("checkpoint not found", file: checkpointURL.path, hint: "give \(CheckpointFile.validFormats)")
        }
        let isPyTorch = checkpointURL.map { CheckpointFile.format(of: $0) == .pytorch } ?? false
        if isPyTorch, kind == .checkpoint {
            throw UserError("a PyTorch checkpoint holds weights only, not the model", file: path,
                             hint: "give the model file or run config and the checkpoint: MODEL.yaml --checkpoint \(path)")
        }
        let info = try checkpointURL.flatMap { url in
            isPyTorch ? nil : try PredictionInfo(metadata: CheckpointFile.read(from: url).metadata, path: url.path)
        }
        let config = try configPath.map { path throws(SpecError) in try RunConfigLoader.load(path: path, overrides: overrides) }
        // The stored model is the one the weights were trained as; a config or model file named on the
        // command line (or changed by --set) is what the user asked for instead.
        if let info, let checkpointURL, kind == .checkpoint || (kind == .runFolder && overrides.isEmpty) {
            let label = checkpointURL.path + " (stored model)"
            let graph = try ModelSpecLoader.load(yaml: info.modelYAML, file: label, catalog: .standard,
                                                 arguments: info.modelArguments)
            return ModelSource(path: path, kind: kind, graph: graph, modelFile: config?.modelPath ?? label, config: config,
                               checkpoint: checkpointURL, predictionInfo: info, overridden: false)
        }
        if let config, let configPath {
            let (graph, modelFile) = overrides.isEmpty
                ? try ModelOrConfigLoader.load(path: configPath, catalog: .standard)
                : (try ModelSpecLoader.load(config: config, catalog: .standard), config.modelPath)
            return ModelSource(path: path, kind: kind, graph: graph, modelFile: modelFile, config: config,
                               checkpoint: checkpointURL, predictionInfo: info, overridden: !overrides.isEmpty)
        }
        if kind == .modelFile {
            let (graph, modelFile) = try ModelOrConfigLoader.load(path: path, catalog: .standard)
            return ModelSource(path: path, kind: kind, graph: graph, modelFile: modelFile, checkpoint: checkpointURL, predictionInfo: info)
        }
        // A checkpoint (or a run folder without config.yaml) older than the stored model, named as given.
        let checkpointPath = kind == .checkpoint ? path : checkpoint ?? checkpointURL?.path ?? path
        throw UserError("this checkpoint predates stored model metadata (model, classes, transforms)"
                            + (kind == .runFolder ? " and \(path) has no \(RunFolder.configFile)" : ""),
                         file: checkpointPath,
                         hint: "give the run config it was trained with and the checkpoint: CONFIG --checkpoint \(checkpointPath)")
    }
}
