import CNNKernels
import CNNLayers
import CNNSpec
import Foundation

/// The gradient all-reduce of a data-parallel step, in buckets, overlapped with backward as PyTorch DDP does.
///
/// The parameter gradients live in one buffer in graph order (`ParameterStore`), and backward finishes them
/// from the end: once node i's backward has run, every gradient from node i's first tensor on is final.
/// The buffer is cut, from the end, into buckets of whole tensors of about `train.allreduce_bucket_mb`; as
/// `ExecutionPlan.backwardObserver` reports each node done, the buckets it completes go to a thread of their
/// own, which sums them over the ranks (`RingAllReduce`: a fixed order of additions) while the main thread
/// runs the backward pass of earlier layers. `finishStep` waits for the last bucket. Buckets are reduced in
/// the same order on every rank (last layers first), so the messages match without any negotiation.
///
/// Without MPI_THREAD_SERIALIZED (or with one rank) the same buckets are reduced after backward instead.
public final class GradientReducer: @unchecked Sendable {
    /// Element ranges of the gradient buffer, in reduction order (the buffer's end first).
    public let buckets: [Range<Int>]
    /// Per graph node: the offset of its first trainable tensor (nil for nodes without one).
    let nodeOffsets: [Int?]
    public let overlapsBackward: Bool
    private let transport: any MessageTransport
    private let gradients: UnsafeMutablePointer<Float>
    private let scratch: AlignedBuffer<Float>
    /// Buckets handed to the reducer's thread (or found ready) in the current step.
    private var handed = 0
    private let ready = DispatchSemaphore(value: 0)
    private let done = DispatchSemaphore(value: 0)
    /// Set before the thread is woken for the last time.
    private var stopping = false
    /// The first failure on the reducer's thread in this step (read by the main thread after `done`).
    private var failure: DistributedError?
    /// Time the reducer spent reducing, and the main thread spent waiting for it after backward, in total.
    public private(set) var reduceNanoseconds: UInt64 = 0
    public private(set) var waitNanoseconds: UInt64 = 0
    public private(set) var steps = 0

    /// Buckets of whole tensors of `trainable` (offset, count), taken from the end of the buffer until each
    /// holds at least `bucketElements` (the first may hold less).
    public static func layout(tensors: [(offset: Int, count: Int)], bucketElements: Int) -> [Range<Int>] {
        var buckets: [Range<Int>] = []
        var end: Int?
        var start = 0
        for tensor in tensors.sorted(by: { $0.offset > $1.offset }) where tensor.count > 0 {
            if end == nil { end = tensor.offset + tensor.count }
            start = tensor.offset
            if let last = end, last - start >= bucketElements {
                buckets.append(start..<last)
                end = nil
            }
        }
        if let last = end { buckets.append(start..<last) }
        return buckets
    }

    /// `bucketBytes`: `train.allreduce_bucket_mb` in bytes. `overlap`: whether a thread may call the
    /// transport while the main thread runs (MPI_THREAD_SERIALIZED or better).
    public init(plan: ExecutionPlan, transport: any MessageTransport, bucketBytes: Int, overlap: Bool) {
        let store = plan.parameters
        let trainable = store.entries.filter(\.isTrainable)
        buckets = Self.layout(tensors: trainable.map { ($0.offset, $0.count) },
                              bucketElements: max(1, bucketBytes / MemoryLayout<Float>.stride))
        nodeOffsets = plan.graph.nodes.map { node in
            node.op.parameters.filter(\.isTrainable).compactMap { store.entry(node.name + "." + $0.suffix)?.offset }.min()
        }
        self.transport = transport
        gradients = store.gradients.pointer
        let largest = buckets.map(\.count).max() ?? 0
        scratch = AlignedBuffer(count: largest / max(1, transport.size) + 1)
        overlapsBackward = overlap && transport.size > 1 && !buckets.isEmpty
        if overlapsBackward {
            let thread = Thread { [unowned self] in self.serve() }
            thread.name = "cnnspec-allreduce"
            thread.start()
            plan.backwardObserver = { [unowned self] index in
                if let offset = self.nodeOffsets[index] { self.gradientsFinal(from: offset) }
            }
        }
    }

    /// Stops the reducer's thread (it must be idle: between steps).
    public func stop() {
        guard overlapsBackward, !stopping else { return }
        stopping = true
        ready.signal()
    }

    deinit { stop() }

    /// Gradients from element `offset` on are final: hand every bucket that lies there to the thread.
    func gradientsFinal(from offset: Int) {
        while handed < buckets.count && buckets[handed].lowerBound >= offset {
            handed += 1
            ready.signal()
        }
    }

    /// After backward (or after zeroing the gradients of a rank with an empty shard): reduces what is left
    /// and waits until every bucket is summed over the ranks.
    public func finishStep() throws(DistributedError) {
        let start = DispatchTime.now().uptimeNanoseconds
        defer {
            waitNanoseconds &+= DispatchTime.now().uptimeNanoseconds &- start
            steps += 1
            handed = 0
        }
        if overlapsBackward {
            gradientsFinal(from: 0)
            done.wait()
            if let failure { self.failure = nil; throw failure }
        } else {
            for bucket in buckets { try reduce(bucket) }
        }
    }

    private func reduce(_ bucket: Range<Int>) throws(DistributedError) {
        let start = DispatchTime.now().uptimeNanoseconds
        try RingAllReduce.sum(gradients + bucket.lowerBound, count: bucket.count, scratch: scratch.pointer,
                              transport: transport, channel: .gradients)
        reduceNanoseconds &+= DispatchTime.now().uptimeNanoseconds &- start
    }

    /// The reducer's thread: every step, one bucket per signal in order, then `done`.
    private func serve() {
        while true {
            for bucket in buckets {
                ready.wait()
                if stopping { return }
                guard failure == nil else { continue }
                do { try reduce(bucket) } catch { failure = error }
            }
            done.signal()
        }
    }
}
