import Foundation

/// `MessageTransport` between threads of one process: the ranks of a data-parallel run without MPI, so the
/// collectives, sharding and the bucketed reducer are tested by `swift test` (no mpirun needed).
public final class LocalTransport: MessageTransport, @unchecked Sendable {
    public let rank: Int
    public let size: Int
    private let hub: Hub

    /// `size` connected transports, one per rank (use each from its own thread).
    public static func group(size: Int) -> [LocalTransport] {
        let hub = Hub()
        return (0..<size).map { LocalTransport(rank: $0, size: size, hub: hub) }
    }

    private init(rank: Int, size: Int, hub: Hub) { self.rank = rank; self.size = size; self.hub = hub }

    /// The messages in flight, by (from, to, channel); guarded by `condition`.
    private final class Hub: @unchecked Sendable {
        let condition = NSCondition()
        var queues: [String: [[UInt8]]] = [:]

        func post(_ bytes: [UInt8], key: String) {
            condition.lock()
            queues[key, default: []].append(bytes)
            condition.broadcast()
            condition.unlock()
        }

        func take(key: String) -> [UInt8] {
            condition.lock()
            defer { condition.unlock() }
            while queues[key]?.isEmpty ?? true { condition.wait() }
            return queues[key]!.removeFirst()
        }
    }

    /// The tag of broadcasts (apart from the exchange channels).
    private static let broadcastChannel: Int32 = 99

    public func exchange(send: UnsafeRawBufferPointer, to destination: Int, receive: UnsafeMutableRawBufferPointer,
                         from source: Int, channel: MessageChannel) throws(DistributedError) {
        hub.post(Array(send), key: "\(rank)>\(destination)#\(channel.rawValue)")
        let bytes = hub.take(key: "\(source)>\(rank)#\(channel.rawValue)")
        guard bytes.count == receive.count else {
            throw DistributedError("rank \(rank) expected \(receive.count) bytes from rank \(source), got \(bytes.count)")
        }
        bytes.withUnsafeBytes { receive.copyMemory(from: $0) }
    }

    public func broadcast(_ bytes: UnsafeMutableRawBufferPointer, root: Int) throws(DistributedError) {
        if rank == root {
            for other in 0..<size where other != root { hub.post(Array(bytes), key: "\(root)>\(other)#\(Self.broadcastChannel)") }
        } else {
            let received = hub.take(key: "\(root)>\(rank)#\(Self.broadcastChannel)")
            guard received.count == bytes.count else {
                throw DistributedError("rank \(rank) expected a broadcast of \(bytes.count) bytes, got \(received.count)")
            }
            received.withUnsafeBytes { bytes.copyMemory(from: $0) }
        }
    }
}
