import CNNSpec

/// Which config trained a checkpoint: `config_hash` in its metadata (and in summary.json) is the hash of
/// the resolved config — the one written to the run folder's config.yaml, with `normalize: auto` replaced
/// by the computed statistics — so that the config as given with its `--set` overrides and the run
/// folder's config.yaml both match it.
public enum ConfigIdentity {
    /// `config` with its data transforms resolved against `data` (what config.yaml holds).
    public static func resolved(_ config: RunConfig, data: TrainingData) -> RunConfig {
        var resolved = config
        resolved.data = data.resolving(config.data)
        return resolved
    }

    /// The `config_hash` a run of `config` on `data` writes.
    public static func hash(_ config: RunConfig, data: TrainingData) -> String {
        resolved(config, data: data).hash
    }

    /// Whether `config` (loaded with its overrides) is the one that trained a checkpoint whose metadata
    /// says `storedHash`. Checkpoints written before the hash was of the resolved config stored the hash
    /// of the config as loaded, which is accepted too.
    public static func matches(storedHash: String, config: RunConfig, data: TrainingData) -> Bool {
        storedHash == hash(config, data: data) || storedHash == config.hash
    }
}
