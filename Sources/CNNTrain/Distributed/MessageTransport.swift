import Foundation

/// Point-to-point messages between the ranks of a data-parallel run: all that cnnspec's collectives
/// (`RingAllReduce`, `MessageTransport.broadcast`) need from MPI. `MPITransport` sends over Open MPI;
/// `LocalTransport` connects threads of one process, for the tests.
///
/// Calls under one `MessageChannel` are made by one thread at a time, in the same order on every rank;
/// two channels may be used from two threads at once (the gradient buckets on their own thread while the
/// main thread reduces the step's loss), their messages never mix.
public protocol MessageTransport: AnyObject, Sendable {
    var rank: Int { get }
    var size: Int { get }
    /// Sends `send` to rank `destination` and receives `receive.count` bytes from rank `source`, both on
    /// `channel`; returns when both are done. Either buffer may be empty.
    func exchange(send: UnsafeRawBufferPointer, to destination: Int, receive: UnsafeMutableRawBufferPointer,
                  from source: Int, channel: MessageChannel) throws(DistributedError)
    /// Rank `root`'s `bytes` into every rank's `bytes` (same count everywhere): an exact copy.
    func broadcast(_ bytes: UnsafeMutableRawBufferPointer, root: Int) throws(DistributedError)
}

/// Which stream of messages an exchange belongs to (the MPI tag).
public enum MessageChannel: Int32, Sendable {
    /// The main thread's small reductions (loss, evaluation sums) and broadcasts.
    case control = 1
    /// The gradient buckets, reduced on the reducer's thread while backward runs.
    case gradients = 2
}

/// A failure of the communication layer: a rank gone, a library error. Ends the run on every rank.
public struct DistributedError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// All-reduce (sum) with a fixed order of additions: a ring reduce-scatter then all-gather, as Horovod and
/// NCCL do, but over `MessageTransport` so that the order never depends on the MPI library's choice of
/// algorithm or on timing. For a fixed number of ranks the result is bit-identical from run to run, and every
/// rank ends with the same bits (each chunk is summed once, on its owner, then copied).
///
/// Chunk k of the buffer is summed along the ring starting at rank k+1: ((x[k+1] + x[k+2]) + …) + x[k].
/// Each rank sends and receives 2·(N−1)/N of the buffer, the bandwidth optimum.
public enum RingAllReduce {
    /// The `[start, end)` element range of chunk `index` of `count` elements split over `parts` ranks:
    /// sizes differ by at most one, larger ones first.
    public static func chunk(_ index: Int, of count: Int, parts: Int) -> Range<Int> {
        let base = count / parts, extra = count % parts
        let start = index * base + min(index, extra)
        return start..<(start + base + (index < extra ? 1 : 0))
    }

    /// Sums `values` (`count` elements) over every rank of `transport`, in place. `scratch` holds at least
    /// the largest chunk (`count / size + 1` elements). Allocates nothing.
    public static func sum<T: BinaryFloatingPoint>(_ values: UnsafeMutablePointer<T>, count: Int,
                                                   scratch: UnsafeMutablePointer<T>, transport: any MessageTransport,
                                                   channel: MessageChannel) throws(DistributedError) {
        let size = transport.size, rank = transport.rank
        guard size > 1, count > 0 else { return }
        let right = (rank + 1) % size, left = (rank + size - 1) % size
        let stride = MemoryLayout<T>.stride
        // Reduce-scatter: after step s, rank r has added its part into chunk (r − s − 1) mod N.
        for step in 0..<(size - 1) {
            let sent = chunk((rank - step + 2 * size) % size, of: count, parts: size)
            let received = chunk((rank - step - 1 + 2 * size) % size, of: count, parts: size)
            try transport.exchange(send: UnsafeRawBufferPointer(start: values + sent.lowerBound, count: sent.count * stride), to: right,
                                   receive: UnsafeMutableRawBufferPointer(start: scratch, count: received.count * stride), from: left,
                                   channel: channel)
            let target = values + received.lowerBound
            for index in 0..<received.count { target[index] = scratch[index] + target[index] }
        }
        // All-gather: rank r owns the finished chunk (r + 1) mod N and passes finished chunks on.
        for step in 0..<(size - 1) {
            let sent = chunk((rank + 1 - step + 2 * size) % size, of: count, parts: size)
            let received = chunk((rank - step + 2 * size) % size, of: count, parts: size)
            try transport.exchange(send: UnsafeRawBufferPointer(start: values + sent.lowerBound, count: sent.count * stride), to: right,
                                   receive: UnsafeMutableRawBufferPointer(start: values + received.lowerBound,
                                                                          count: received.count * stride),
                                   from: left, channel: channel)
        }
    }

    /// `sum` of a small array of doubles (loss sums, counts), on the control channel.
    public static func sum(_ values: inout [Double], transport: any MessageTransport) throws {
        var scratch = [Double](repeating: 0, count: values.count / max(1, transport.size) + 1)
        let count = values.count
        try values.withUnsafeMutableBufferPointer { buffer in
            try scratch.withUnsafeMutableBufferPointer { scratchBuffer in
                try sum(buffer.baseAddress!, count: count, scratch: scratchBuffer.baseAddress!, transport: transport, channel: .control)
            }
        }
    }
}

extension MessageTransport {
    /// Rank `root`'s byte array on every rank (the others learn its length first).
    public func broadcast(bytes: [UInt8], root: Int = 0) throws -> [UInt8] {
        var length = UInt64(bytes.count)
        try withUnsafeMutableBytes(of: &length) { raw in try broadcast(raw, root: root) }
        var copy = rank == root ? bytes : [UInt8](repeating: 0, count: Int(length))
        try copy.withUnsafeMutableBytes { raw in try broadcast(raw, root: root) }
        return copy
    }

    /// Rank `root`'s floats into every rank's `values`.
    public func broadcast(_ values: UnsafeMutablePointer<Float>, count: Int, root: Int = 0) throws {
        try broadcast(UnsafeMutableRawBufferPointer(start: values, count: count * MemoryLayout<Float>.stride), root: root)
    }
}

/// Which samples of a global batch a rank trains on: rank r of N takes the contiguous positions
/// [⌊r·n/N⌋, ⌊(r+1)·n/N⌋) of the batch's n samples (in the epoch's shuffled order), so the shards are
/// disjoint, cover the batch, differ in size by at most one, and depend only on (n, N, r).
public enum BatchShard {
    public static func positions(batchCount: Int, rank: Int, size: Int) -> Range<Int> {
        (rank * batchCount / size)..<((rank + 1) * batchCount / size)
    }

    /// The evaluation batches rank `rank` of `size` runs: every size-th batch from its own index, so each
    /// batch is evaluated whole, with the same batch size as a single process (same figures).
    public static func evaluationBatches(batchCount: Int, rank: Int, size: Int) -> StrideTo<Int> {
        stride(from: rank, to: batchCount, by: size)
    }
}
