import CNNKernels
import CNNSpec
import Dispatch

/// Assembles batches of transformed samples into caller-provided buffers.
///
/// The order of samples is reshuffled per epoch from (seed, epoch) when `shuffle` is on; random
/// transforms draw from a generator seeded by (seed, epoch, sample index), so a batch is the same
/// whatever the thread count. Scratch is allocated once at init; `fill` allocates nothing for samples of
/// one size (pictures of varying size compute their resize coefficients per sample).
///
/// With `prefetch` (the default), once `fill` has returned batch b, batch b + 1 of the same epoch is
/// transformed on a background thread while the caller runs its step; the next `fill` then only waits
/// for it (if it is not ready yet) and copies it. Batches are the same either way.
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

    /// Prefetching state: the next batch is prepared into `staging` on `prefetchQueue`; `staged` says
    /// which (epoch, batch, positions) it holds. Written there, read here only after `prefetchGroup.wait()`.
    private let prefetches: Bool
    private let prefetchQueue = DispatchQueue(label: "cnnspec.batch-prefetch")
    private let prefetchGroup = DispatchGroup()
    private var staging: UnsafeMutablePointer<Float>?
    private var stagingLabels: UnsafeMutablePointer<Int32>?
    private var prefetchScratch: UnsafeMutablePointer<UInt8>?
    private var staged: (epoch: Int, batch: Int, positions: Range<Int>)?

    public var sampleCount: Int { indices.count }

    /// - Parameters:
    ///   - indices: which samples of `dataset` this loader serves (e.g. a `DatasetSplit` part).
    ///   - threadPool: spreads a batch's samples over threads; nil runs on the caller's thread.
    ///   - prefetch: prepare the next batch on a background thread while the caller's step runs.
    public init(dataset: Dataset, indices: [Int], pipeline: TransformPipeline, batchSize: Int, shuffle: Bool,
                seed: UInt64, threadPool: ThreadPool? = nil, prefetch: Bool = true) {
        prefetches = prefetch
        self.dataset = dataset; self.indices = indices; self.pipeline = pipeline
        self.batchSize = max(1, batchSize); self.shuffle = shuffle; self.seed = seed; self.threadPool = threadPool
        batchCount = (indices.count + self.batchSize - 1) / self.batchSize
        order = indices
        slots = max(1, threadPool?.threadCount ?? 1)
        scratch = .allocate(capacity: max(1, slots * pipeline.scratchBytes))
        startEpoch(0)
    }

    deinit {
        prefetchGroup.wait()
        scratch.deallocate()
        staging?.deallocate(); stagingLabels?.deallocate(); prefetchScratch?.deallocate()
    }

    /// Sets the sample order for 0-based `epoch` (a seeded shuffle when `shuffle` is on).
    public func startEpoch(_ epoch: Int) {
        prefetchGroup.wait()  // a batch being prefetched reads `order`
        staged = nil
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
    /// `fill` puts at those positions, and only those are transformed. Returns their number. With prefetching,
    /// the same positions of the next batch are prepared meanwhile (a rank's shard of the next batch).
    @discardableResult
    public func fill(batch: Int, positions: Range<Int>, images: UnsafeMutablePointer<Float>,
                     labels: UnsafeMutablePointer<Int32>) -> Int {
        prefetchGroup.wait()
        guard let shard = clipped(positions, batch: batch) else {
            staged = nil
            return 0
        }
        if let staged, staged.epoch == epoch, staged.batch == batch, staged.positions == shard, let staging, let stagingLabels {
            images.update(from: staging, count: shard.count * pipeline.outputCount)
            labels.update(from: stagingLabels, count: shard.count)
        } else {
            fillNow(batch: batch, positions: shard, images: images, labels: labels)
        }
        staged = nil
        if prefetches, batch + 1 < batchCount { startPrefetch(batch + 1, positions: positions) }
        return shard.count
    }

    /// `positions` cut to the samples batch `batch` has; nil when none are left.
    private func clipped(_ positions: Range<Int>, batch: Int) -> Range<Int>? {
        let end = min(positions.upperBound, samples(inBatch: batch))
        return positions.lowerBound < end ? positions.lowerBound..<end : nil
    }

    /// Transforms `positions` of batch `batch` into the staging buffers on the prefetch thread (one thread:
    /// the step runs on the pool meanwhile). The buffers are allocated on first use.
    private func startPrefetch(_ batch: Int, positions: Range<Int>) {
        guard let shard = clipped(positions, batch: batch) else { return }
        if staging == nil {
            staging = .allocate(capacity: batchSize * pipeline.outputCount)
            stagingLabels = .allocate(capacity: batchSize)
            prefetchScratch = .allocate(capacity: max(1, pipeline.scratchBytes))
        }
        let epoch = self.epoch
        prefetchQueue.async(group: prefetchGroup) { [self] in
            // invariant: allocated above, before the work was queued
            withJob(batch: batch, first: shard.lowerBound, images: staging!, labels: stagingLabels!) { job in
                transform(job, workspace: prefetchScratch!, positions: 0..<shard.count)
            }
            staged = (epoch, batch, shard)
        }
    }

    /// The pointers one batch's transforms read and write: the batch's samples from position `first` on,
    /// written from the start of `images` and `labels`.
    private func withJob(batch: Int, first: Int, images: UnsafeMutablePointer<Float>, labels: UnsafeMutablePointer<Int32>,
                         _ body: (FillJob) -> Void) {
        dataset.withPixels { pixels in
            dataset.labels.withUnsafeBufferPointer { allLabels in
                order.withUnsafeBufferPointer { order in
                    // invariant: callers pass a batch with samples, so dataset and order are non-empty
                    body(FillJob(loader: Unmanaged.passUnretained(self), pixels: pixels.baseAddress!,
                                 allLabels: allLabels.baseAddress!, order: order.baseAddress! + batch * batchSize + first,
                                 images: images, labels: labels))
                }
            }
        }
    }

    /// Transforms `positions` of batch `batch` now, spread over the thread pool.
    private func fillNow(batch: Int, positions: Range<Int>, images: UnsafeMutablePointer<Float>,
                         labels: UnsafeMutablePointer<Int32>) {
        let count = positions.count, parts = min(slots, count)
        withJob(batch: batch, first: positions.lowerBound, images: images, labels: labels) { job in
            if let threadPool, parts > 1 {
                threadPool.forEachPart(of: count, parts: parts, context: job) { raw, part, start, end in
                    let job = raw.load(as: FillJob.self)
                    let loader = job.loader.takeUnretainedValue()
                    loader.transform(job, workspace: loader.scratch + part * loader.pipeline.scratchBytes, positions: start..<end)
                }
            } else {
                transform(job, workspace: scratch, positions: 0..<count)
            }
        }
    }

    /// Transforms the samples at `positions` of a batch, using `workspace` (`pipeline.scratchBytes`).
    private func transform(_ job: FillJob, workspace: UnsafeMutablePointer<UInt8>, positions: Range<Int>) {
        let outputCount = pipeline.outputCount
        for position in positions {
            let sample = job.order[position]
            var random = SplitMix64(seed: seed, epoch: epoch, sample: sample)
            let (offset, size) = dataset.sample(sample)
            pipeline.apply(job.pixels + offset, height: size.height, width: size.width, into: job.images + position * outputCount,
                           scratch: workspace, random: &random)
            job.labels[position] = job.allLabels[sample]
            dataset.release(sample)  // a memory-mapped store lets the kernel page the picture out again
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
