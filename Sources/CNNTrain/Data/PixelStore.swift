import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The 8-bit pixels of a folder dataset's pictures kept at their own size: in memory while they fit
/// `FolderDataset`'s memory budget, else in an unlinked temporary file mapped read-only, so a folder
/// larger than memory trains without holding it decoded in RAM (the kernel pages it in and out).
///
/// Built by `PixelStore.Builder` from concurrently decoded pictures; read through `pointer`.
public final class PixelStore: @unchecked Sendable {
    public let pointer: UnsafePointer<UInt8>
    public let count: Int
    /// True when the pixels are a memory-mapped file (then readers `release` what they have read).
    public let isMapped: Bool
    private let deallocate: () -> Void

    private init(pointer: UnsafePointer<UInt8>, count: Int, isMapped: Bool, deallocate: @escaping () -> Void) {
        self.pointer = pointer; self.count = count; self.isMapped = isMapped; self.deallocate = deallocate
    }

    deinit { deallocate() }

    /// Bytes of one memory page, for `release`.
    private static let pageSize = max(4096, Int(sysconf(Int32(_SC_PAGESIZE))))

    /// Drops the whole pages inside `offset..<offset+length` from this process's resident set (a
    /// mapped store only; the file's pages stay in the page cache for the next read).
    public func release(offset: Int, length: Int) {
        guard isMapped, length > 0 else { return }
        let first = (offset + Self.pageSize - 1) / Self.pageSize * Self.pageSize
        let end = (offset + length) / Self.pageSize * Self.pageSize
        guard first < end else { return }
        _ = madvise(UnsafeMutableRawPointer(mutating: pointer + first), end - first, MADV_DONTNEED)
    }

    /// Collects pictures from decoding threads: `append` copies one and returns its offset. Spills to a
    /// temporary file in `folder` (else the system's temporary folder) once `memoryBudget` bytes are
    /// exceeded, or as soon as the first `estimateAfter` pictures project `expectedCount` pictures beyond it
    /// (so a folder larger than memory never fills memory first).
    final class Builder: @unchecked Sendable {
        private let lock = NSLock()
        private let memoryBudget: Int
        private let folder: String
        private let expectedCount: Int
        private var appended = 0
        /// Pictures whose mean size predicts the total.
        static let estimateAfter = 64
        private var buffer: UnsafeMutablePointer<UInt8>?
        private var capacity = 0
        private var used = 0
        private var file: Int32 = -1
        private(set) var spillPath: String?
        private(set) var failure: String?

        init(memoryBudget: Int, folder: String, expectedCount: Int) {
            self.memoryBudget = memoryBudget; self.folder = folder; self.expectedCount = expectedCount
        }

        deinit { buffer?.deallocate(); if file >= 0 { close(file) } }

        /// Stores `bytes`; nil when the spill file cannot be written (`failure` says why).
        func append(_ bytes: [UInt8]) -> Int? {
            lock.lock(); defer { lock.unlock() }
            guard failure == nil else { return nil }
            let offset = used
            appended += 1
            let projected = appended >= Self.estimateAfter
                ? Double(used + bytes.count) / Double(appended) * Double(max(expectedCount, appended)) : 0
            if file < 0, used + bytes.count > memoryBudget || projected > Double(memoryBudget) {
                spill()
                guard failure == nil else { return nil }
            }
            if file >= 0 {
                let written = bytes.withUnsafeBytes { pwrite(file, $0.baseAddress, bytes.count, off_t(offset)) }
                guard written == bytes.count else {
                    failure = "cannot write \(spillPath ?? "the picture file"): \(String(cString: strerror(errno)))"
                    return nil
                }
            } else {
                if used + bytes.count > capacity {
                    let grown = max(used + bytes.count, capacity * 2, 1 << 20)
                    let larger = UnsafeMutablePointer<UInt8>.allocate(capacity: grown)
                    if let buffer { larger.update(from: buffer, count: used); buffer.deallocate() }
                    buffer = larger; capacity = grown
                }
                // invariant: capacity ≥ used + bytes.count, so buffer exists
                bytes.withUnsafeBufferPointer { buffer!.advanced(by: used).update(from: $0.baseAddress!, count: bytes.count) }
            }
            used += bytes.count
            return offset
        }

        /// Moves what is in memory into a new unlinked temporary file (nothing is left behind on a crash).
        private func spill() {
            var isFolder: ObjCBool = false
            let base = FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder) && isFolder.boolValue
                && FileManager.default.isWritableFile(atPath: folder) ? folder : NSTemporaryDirectory()
            let path = (base as NSString).appendingPathComponent(".cnnspec-pictures-\(getpid())-\(UUID().uuidString)")
            file = open(path, O_RDWR | O_CREAT | O_EXCL, 0o600)
            guard file >= 0 else {
                failure = "cannot create \(path): \(String(cString: strerror(errno)))"
                return
            }
            unlink(path)
            spillPath = path
            if let buffer, used > 0, pwrite(file, buffer, used, 0) != used {
                failure = "cannot write \(path): \(String(cString: strerror(errno)))"
            }
            buffer?.deallocate(); buffer = nil; capacity = 0
        }

        /// The store of everything appended (the builder is spent afterwards).
        func finish() throws(DataError) -> PixelStore {
            lock.lock(); defer { lock.unlock() }
            if let failure { throw DataError(failure, hint: "free disk space, or set data.cache_size to store smaller pictures") }
            if file >= 0 {
                let length = max(1, used)
                if used == 0 { _ = ftruncate(file, 1) }
                guard let mapped = mmap(nil, length, PROT_READ, MAP_SHARED, file, 0), mapped != MAP_FAILED else {
                    throw DataError("cannot map \(spillPath ?? "the picture file") (\(used) bytes): \(String(cString: strerror(errno)))")
                }
                let descriptor = file
                file = -1
                let raw = UnsafeRawPointer(mapped)
                return PixelStore(pointer: raw.assumingMemoryBound(to: UInt8.self), count: used, isMapped: true) {
                    munmap(UnsafeMutableRawPointer(mutating: raw), length); close(descriptor)
                }
            }
            let exact = UnsafeMutablePointer<UInt8>.allocate(capacity: max(1, used))
            if let buffer { exact.update(from: buffer, count: used); buffer.deallocate() }
            buffer = nil
            return PixelStore(pointer: UnsafePointer(exact), count: used, isMapped: false) { exact.deallocate() }
        }
    }
}
