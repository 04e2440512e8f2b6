#if CNNSPEC_MPI
import CMPI
import Foundation

/// `MessageTransport` over Open MPI's MPI_COMM_WORLD (`CMPI`'s inline shims). Exists only in builds with
/// MPI (`-D CNNSPEC_MPI`, set by Package.swift when Open MPI is installed).
public final class MPITransport: MessageTransport, @unchecked Sendable {
    public let rank: Int
    public let size: Int
    /// Ranks on this node (MPI's shared-memory split).
    public let ranksPerNode: Int
    /// Whether MPI granted MPI_THREAD_SERIALIZED or better: the gradient buckets can then be reduced on a
    /// thread of their own while backward runs (the main thread makes no MPI call meanwhile); otherwise they
    /// are reduced after backward, still bucket by bucket.
    public let allowsCommunicationThread: Bool

    /// Initialises MPI (MPI_Init_thread). Called once, when a launcher started several ranks.
    init() throws(DistributedError) {
        var provided: Int32 = 0
        let status = cnnspec_mpi_init(&provided)
        guard status == MPI_SUCCESS else { throw DistributedError("MPI_Init_thread failed: " + Self.describe(status)) }
        rank = Int(cnnspec_mpi_rank())
        size = Int(cnnspec_mpi_size())
        ranksPerNode = Int(cnnspec_mpi_local_size())
        allowsCommunicationThread = provided >= cnnspec_mpi_thread_serialized()
    }

    static func describe(_ status: Int32) -> String {
        var text = [CChar](repeating: 0, count: Int(cnnspec_mpi_max_error_string()) + 1)
        cnnspec_mpi_error_string(status, &text, Int32(text.count))
        let message = String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return message.isEmpty ? "MPI error \(status)" : message
    }

    /// The most bytes one MPI call moves (its counts are `int`); larger messages go in pieces.
    private static let largestMessage = Int(Int32.max) / 2

    public func exchange(send: UnsafeRawBufferPointer, to destination: Int, receive: UnsafeMutableRawBufferPointer,
                         from source: Int, channel: MessageChannel) throws(DistributedError) {
        var offset = 0
        repeat {
            let sent = max(0, min(Self.largestMessage, send.count - offset))
            let received = max(0, min(Self.largestMessage, receive.count - offset))
            let status = cnnspec_mpi_sendrecv(send.baseAddress.map { $0 + offset }, Int32(sent), Int32(destination),
                                              receive.baseAddress.map { $0 + offset }, Int32(received), Int32(source),
                                              channel.rawValue)
            guard status == MPI_SUCCESS else {
                throw DistributedError("rank \(rank): exchange with ranks \(destination)/\(source) failed: " + Self.describe(status))
            }
            offset += Self.largestMessage
        } while offset < max(send.count, receive.count)
    }

    public func broadcast(_ bytes: UnsafeMutableRawBufferPointer, root: Int) throws(DistributedError) {
        var offset = 0
        repeat {
            let count = max(0, min(Self.largestMessage, bytes.count - offset))
            let status = cnnspec_mpi_broadcast(bytes.baseAddress.map { $0 + offset }, Int32(count), Int32(root))
            guard status == MPI_SUCCESS else { throw DistributedError("rank \(rank): broadcast failed: " + Self.describe(status)) }
            offset += Self.largestMessage
        } while offset < bytes.count
    }

    /// Ends every rank of the job (MPI_Abort): after one rank failed, so the others do not wait forever.
    func abort(code: Int32) -> Never {
        cnnspec_mpi_abort(code)
        exit(code)
    }

    func finalize() { _ = cnnspec_mpi_finalize() }
}
#endif
