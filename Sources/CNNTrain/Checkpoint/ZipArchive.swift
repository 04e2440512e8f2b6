import CZip
import Foundation

/// A zip archive in memory, read by the system's libzip (`torch.save` writes one since PyTorch 1.6).
/// Entry sizes come from the archive and are checked before anything is allocated.
final class ZipArchive {
    struct Entry { var name: String; var index: UInt64; var size: UInt64; var compressedSize: UInt64; var isStored: Bool }

    /// More entries than this is not a checkpoint (one per tensor storage plus a few).
    static let maximumEntries: Int64 = 1_000_000
    /// Deflate expands at most about 1032:1; a larger declared ratio is a lie.
    static let maximumDeflateRatio: UInt64 = 1032

    private let archive: OpaquePointer
    private let fileBytes: UInt64
    let entries: [Entry]

    /// Opens `data` as a zip archive; `nil` message parts come from libzip.
    init(_ data: Data) throws(ZipFailure) {
        fileBytes = UInt64(data.count)
        // libzip reads from a copy it owns (freed with the source), so `data`'s lifetime does not matter.
        guard let copy = malloc(max(1, data.count)) else { throw ZipFailure(message: "out of memory for \(data.count) bytes") }
        data.withUnsafeBytes { raw in if let base = raw.baseAddress { copy.copyMemory(from: base, byteCount: raw.count) } }
        var error = zip_error_t()
        zip_error_init(&error)
        defer { zip_error_fini(&error) }
        guard let source = zip_source_buffer_create(copy, UInt64(data.count), 1, &error) else {
            free(copy)
            throw ZipFailure(message: "not a readable zip archive (\(String(cString: zip_error_strerror(&error))))")
        }
        guard let archive = zip_open_from_source(source, ZIP_RDONLY | ZIP_CHECKCONS, &error) else {
            zip_source_free(source)
            throw ZipFailure(message: "not a readable zip archive (\(String(cString: zip_error_strerror(&error))))")
        }
        self.archive = archive
        let count = zip_get_num_entries(archive, 0)
        guard count >= 0, count <= Self.maximumEntries else {
            zip_discard(archive)
            throw ZipFailure(message: "the archive declares \(count) entries (at most \(Self.maximumEntries) are read)")
        }
        var entries: [Entry] = []
        for index in 0..<UInt64(count) {
            var stat = zip_stat_t()
            zip_stat_init(&stat)
            let needed = UInt64(ZIP_STAT_NAME | ZIP_STAT_SIZE | ZIP_STAT_COMP_SIZE | ZIP_STAT_COMP_METHOD)
            guard zip_stat_index(archive, index, 0, &stat) == 0, stat.valid & needed == needed, let name = stat.name else {
                zip_discard(archive)
                throw ZipFailure(message: "entry \(index) of the archive cannot be read (corrupt zip)")
            }
            entries.append(Entry(name: String(cString: name), index: index, size: stat.size, compressedSize: stat.comp_size,
                                 isStored: stat.comp_method == Int32(ZIP_CM_STORE)))
        }
        self.entries = entries
    }

    deinit { zip_discard(archive) }

    /// The whole of `entry`, after checking its declared size against the archive's length and `limit`.
    func read(_ entry: Entry, limit: UInt64) throws(ZipFailure) -> [UInt8] {
        guard entry.compressedSize <= fileBytes else {
            throw ZipFailure(message: "'\(entry.name)' declares \(entry.compressedSize) bytes, more than the \(fileBytes)-byte file (truncated or corrupt)")
        }
        let (bound, overflow) = entry.compressedSize.multipliedReportingOverflow(by: entry.isStored ? 1 : Self.maximumDeflateRatio)
        guard overflow || entry.size <= bound else {
            throw ZipFailure(message: "'\(entry.name)' declares \(entry.size) bytes from \(entry.compressedSize) stored ones (corrupt zip)")
        }
        guard entry.size <= limit else {
            throw ZipFailure(message: "'\(entry.name)' declares \(entry.size) bytes, more than the \(limit) read for it (corrupt, or not a state_dict)")
        }
        guard let file = zip_fopen_index(archive, entry.index, 0) else {
            throw ZipFailure(message: "'\(entry.name)' cannot be opened (\(String(cString: zip_strerror(archive))))")
        }
        defer { zip_fclose(file) }
        var bytes = [UInt8](repeating: 0, count: Int(entry.size))
        var done = 0
        while done < bytes.count {
            let got = bytes.withUnsafeMutableBytes { raw in zip_fread(file, raw.baseAddress! + done, UInt64(raw.count - done)) }  // count > 0
            guard got > 0 else {
                let reason = got < 0 ? String(cString: zip_file_strerror(file)) : "ends after \(done) of \(bytes.count) bytes"
                throw ZipFailure(message: "'\(entry.name)' cannot be read (\(reason); truncated or corrupt)")
            }
            done += Int(got)
        }
        var extra: UInt8 = 0
        let more = zip_fread(file, &extra, 1)
        guard more == 0 else {
            throw ZipFailure(message: "'\(entry.name)' " + (more < 0 ? "cannot be read (\(String(cString: zip_file_strerror(file))))" : "holds more than its declared \(entry.size) bytes") + " (corrupt zip)")
        }
        return bytes
    }
}

/// A zip archive or entry that could not be read.
struct ZipFailure: Error { var message: String }
