import CNNKernels
import CNNSpec

/// Assembles batches of transformed samples into caller-provided buffers.
///
/// The order of samples is reshuffled per epoch from (seed, epoch) when `shuffle` is on; random
/// transforms draw from a generator seeded by (seed, epoch, sample index), so a batch is the same
/// whatever the thread count. Scratch is allocated once at init; `fill` allocates nothing.
public final class BatchLoader: @unchecked Sendable {
    public let dataset: Dataset
    public let pipeline: TransformPipeline
    public let batchSize: Int
    public let shuffle: Bool
    public let seed: UInt64
    /// Batches per epoch; the last may be smaller (PyTorch `drop_last=False`).
    public let batchCount: Int
    /// The sample indices (into `dataset`) in this epoch's order.
    public private(set) var order: [Int]
    public private(set) var epoch = 0

    private let indices: [Int]
    private let threadPool: ThreadPool?
    private let slots: Int
    private let scratch: UnsafeMutablePointer<UInt8>

    public var sampleCount: Int { indices.count }

    /// - Parameters:
    ///   - indices: which samples of `dataset` this loader serves (e.g. a `DatasetSplit` part).
    ///   - threadPool: spreads a batch's samples over threads; nil runs on the caller's thread.
    public init(dataset: Dataset, indices: [Int], pipeline: TransformPipeline, batchSize: Int, shuffle: Bool,
                seed: UInt64, threadPool: ThreadPool? = nil) {
        self.dataset = dataset; self.indices = indices; self.pipeline = pipeline
        self.batchSize = max(1, batchSize); self.shuffle = shuffle; self.seed = seed; self.threadPool = threadPool
        batchCount = (indices.count + self.batchSize - 1) / self.batchSize
        order = indices
        slots = max(1, threadPool?.threadCount ?? 1)
        scratch = .allocate(capacity: max(1, slots * pipeline.scratchBytes))
        startEpoch(0)
    }

    deinit { scratch.deallocate() }

    /// Sets the sample order for 0-based `epoch` (a seeded shuffle when `shuffle` is on).
    public func startEpoch(_ epoch: Int) {
        self.epoch = epoch
        order = indices
        if shuffle {
            var random = SplitMix64(seed: seed, epoch: epoch, sample: -1)
            random.shuffle(&order)
        }
    }

    /// Number of samples in batch `batch` of the current epoch.
    public func samples(inBatch batch: Int) -> Int {
        max(0, min(batchSize, indices.count - batch * batchSize))
    }

    /// Writes batch `batch` of the current epoch: `samples(inBatch:)` transformed samples into `images`
    /// ([n, C, H, W] with the pipeline's output shape) and their labels into `labels`. Returns n.
    @discardableResult
    public func fill(batch: Int, images: UnsafeMutablePointer<Float>, labels: UnsafeMutablePointer<Int32>) -> Int {
        fill(batch: batch, positions: 0..<samples(inBatch: batch), images: images, labels: labels)
    }

    /// Writes only the samples at `positions` of batch `batch` (a data-parallel rank's shard, `BatchShard`),
    /// from the start of `images` and `labels`: the same transformed samples (same random draws) a whole-batch
    /// `fill` puts at those positions, and only those are decoded. Returns their number.
    @discardableResult
    public func fill(batch: Int, positions: Range<Int>, images: UnsafeMutablePointer<Float>,
                     labels: UnsafeMutablePointer<Int32>) -> Int {
        let count = min(positions.count, max(0, samples(inBatch: batch) - positions.lowerBound))
        guard count > 0 else { return 0 }
        let first = batch * batchSize + positions.lowerBound
        let parts = min(slots, count)
        dataset.images.withUnsafeBufferPointer { pixels in
            dataset.labels.withUnsafeBufferPointer { allLabels in
                order.withUnsafeBufferPointer { order in
                    // invariant: count > 0 implies a non-empty dataset and order
                    let job = FillJob(loader: Unmanaged.passUnretained(self), pixels: pixels.baseAddress!,
                                      allLabels: allLabels.baseAddress!, order: order.baseAddress! + first,
                                      images: images, labels: labels)
                    if let threadPool, parts > 1 {
                        threadPool.forEachPart(of: count, parts: parts, context: job) { raw, part, start, end in
                            let job = raw.load(as: FillJob.self)
                            job.loader.takeUnretainedValue().fill(job, part: part, positions: start..<end)
                        }
                    } else {
                        fill(job, part: 0, positions: 0..<count)
                    }
                }
            }
        }
        return count
    }

    /// Transforms the samples at `positions` of a batch, using part `part`'s scratch.
    private func fill(_ job: FillJob, part: Int, positions: Range<Int>) {
        let workspace = scratch + part * pipeline.scratchBytes
        let sampleBytes = dataset.sampleSize, outputCount = pipeline.outputCount
        for position in positions {
            let sample = job.order[position]
            var random = SplitMix64(seed: seed, epoch: epoch, sample: sample)
            pipeline.apply(job.pixels + sample * sampleBytes, into: job.images + position * outputCount,
                           scratch: workspace, random: &random)
            job.labels[position] = job.allLabels[sample]
        }
    }
}

/// What the parts of one `fill` share (passed to the pool without allocating).
private struct FillJob {
    let loader: Unmanaged<BatchLoader>
    let pixels: UnsafePointer<UInt8>
    let allLabels: UnsafePointer<Int32>
    /// The batch's first entry in the epoch's order.
    let order: UnsafePointer<Int>
    let images: UnsafeMutablePointer<Float>
    let labels: UnsafeMutablePointer<Int32>
}
