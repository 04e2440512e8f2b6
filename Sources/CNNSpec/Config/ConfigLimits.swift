/// Upper bounds of the config's integer keys (documented in docs/run-config.md).
///
/// The validator used to accept any 64-bit integer, and sizes built on them (`batch_size` × the
/// per-image activations, `iterations` + a batch count, one thread per `threads`) then overflowed
/// or asked for terabytes. The bounds are far above any sensible value on one CPU machine, so they
/// only ever reject mistakes and hostile input, with the key path and the valid range.
public enum ConfigLimits {
    /// Default bound of every count-like key (iterations, step sizes, milestones, seeds' neighbours):
    /// a billion, large enough for any run, small enough that sums and products of two counts fit an Int.
    public static let largestCount = 1_000_000_000
    /// `train.epochs`, `output.checkpoint.every_epochs`: a million epochs.
    public static let largestEpochs = 1_000_000
    /// `train.batch_size`, `train.eval_batch_size`: 65,536 images per batch; the plan's memory is then
    /// checked against the machine (see MemoryEstimate) before anything is allocated.
    public static let largestBatchSize = 65_536
    /// `train.threads`: 256, as many as the largest CPU nodes have cores; 0 means all cores. Each
    /// thread takes a stack and per-thread kernel scratch, so a thousand threads on a small machine
    /// exhausted its memory (or a memory cap) before training started.
    public static let largestThreadCount = 256
    /// Pixel sizes (`resize`, `random_crop` size and padding): 16,384 pixels a side.
    public static let largestImageSide = 16_384
    /// Seeds (`train.seed`, `data.split_seed`, a sweep's `seed`): 2^53, exact in a double and in JSON.
    public static let largestSeed = 1 << 53
    /// Why a bound exists, for the hint of an out-of-range error.
    static let why = "cnnspec bounds every whole-number key so sizes computed from it cannot overflow; see docs/run-config.md"
}
