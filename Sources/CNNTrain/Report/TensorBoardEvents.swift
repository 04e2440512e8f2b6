import Foundation

/// TensorBoard event files (`output.tensorboard: true`): what `tensorboard --logdir runs/` reads.
///
/// The file is a sequence of TFRecords — little-endian `uint64` length, masked CRC-32C of those 8 bytes,
/// the data, masked CRC-32C of the data — each holding one `tensorflow.Event` protobuf. The first record
/// carries `file_version: "brain.Event:2"`; every other one a `Summary` of scalar values
/// (`Summary.Value{tag, simple_value}`) at a training step (the iteration). The few protobuf fields are
/// encoded by hand (field numbers from tensorflow/core/util/event.proto and summary.proto).
public enum TensorBoardEvents {
    /// `Event.file_version` of the first record; TensorBoard rejects files without it.
    public static let fileVersion = "brain.Event:2"
    /// File name prefix TensorBoard looks for.
    public static let filePrefix = "events.out.tfevents."

    /// Protobuf field numbers used here.
    enum Field {
        static let wallTime = 1, step = 2, fileVersion = 3, summary = 5, sessionLog = 7
        static let summaryValue = 1
        static let valueTag = 1, valueSimpleValue = 2
        static let sessionStatus = 1
    }

    /// `SessionLog.SessionStatus.START`: written when a run resumes, so TensorBoard drops the events of
    /// the steps after the resume point that the killed process had already written (they come again).
    static let sessionStart: UInt64 = 1

    /// A decoded event.
    public struct Event: Sendable, Equatable {
        public var wallTime: Double
        public var step: Int64
        public var fileVersion: String?
        /// `(tag, simple_value)` pairs of the event's summary.
        public var scalars: [Scalar]
        /// `SessionLog.status`, when the event is a session log.
        public var sessionStatus: UInt64?
    }

    public struct Scalar: Sendable, Equatable {
        public var tag: String
        public var value: Float
        public init(tag: String, value: Float) { self.tag = tag; self.value = value }
    }

    // MARK: Encoding

    static func event(wallTime: Double, step: Int64, fileVersion: String? = nil, scalars: [Scalar] = [],
                      sessionStatus: UInt64? = nil) -> [UInt8] {
        var bytes: [UInt8] = []
        key(Field.wallTime, wireType: 1, into: &bytes)
        withUnsafeBytes(of: wallTime.bitPattern.littleEndian) { bytes += $0 }
        key(Field.step, wireType: 0, into: &bytes)
        varint(UInt64(bitPattern: step), into: &bytes)
        if let fileVersion { lengthDelimited(Field.fileVersion, Array(fileVersion.utf8), into: &bytes) }
        if !scalars.isEmpty {
            var summary: [UInt8] = []
            for scalar in scalars {
                var value: [UInt8] = []
                lengthDelimited(Field.valueTag, Array(scalar.tag.utf8), into: &value)
                key(Field.valueSimpleValue, wireType: 5, into: &value)
                withUnsafeBytes(of: scalar.value.bitPattern.littleEndian) { value += $0 }
                lengthDelimited(Field.summaryValue, value, into: &summary)
            }
            lengthDelimited(Field.summary, summary, into: &bytes)
        }
        if let sessionStatus {
            var log: [UInt8] = []
            key(Field.sessionStatus, wireType: 0, into: &log)
            varint(sessionStatus, into: &log)
            lengthDelimited(Field.sessionLog, log, into: &bytes)
        }
        return bytes
    }

    /// One TFRecord around `data`.
    static func record(_ data: [UInt8]) -> [UInt8] {
        var bytes: [UInt8] = []
        withUnsafeBytes(of: UInt64(data.count).littleEndian) { bytes += $0 }
        let lengthCRC = maskedCRC32C(bytes)
        withUnsafeBytes(of: lengthCRC.littleEndian) { bytes += $0 }
        bytes += data
        withUnsafeBytes(of: maskedCRC32C(data).littleEndian) { bytes += $0 }
        return bytes
    }

    private static func key(_ field: Int, wireType: UInt64, into bytes: inout [UInt8]) {
        varint(UInt64(field) << 3 | wireType, into: &bytes)
    }

    private static func varint(_ value: UInt64, into bytes: inout [UInt8]) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(value & 0x7f) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }

    private static func lengthDelimited(_ field: Int, _ payload: [UInt8], into bytes: inout [UInt8]) {
        key(field, wireType: 2, into: &bytes)
        varint(UInt64(payload.count), into: &bytes)
        bytes += payload
    }

    // MARK: CRC-32C

    /// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as TFRecord uses.
    static let crcTable: [UInt32] = (0..<256).map { index in
        var crc = UInt32(index)
        for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
        return crc
    }

    static func crc32c<Bytes: Sequence>(_ bytes: Bytes) -> UInt32 where Bytes.Element == UInt8 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes { crc = crcTable[Int((crc ^ UInt32(byte)) & 0xff)] ^ (crc >> 8) }
        return crc ^ 0xFFFF_FFFF
    }

    /// TFRecord's masking: rotate right by 15 and add a constant (CRCs of data holding CRCs stay useful).
    static func maskedCRC32C<Bytes: Sequence>(_ bytes: Bytes) -> UInt32 where Bytes.Element == UInt8 {
        let crc = crc32c(bytes)
        return ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8
    }

    // MARK: Reading

    /// A damaged or truncated event file.
    public struct ReadError: Error, CustomStringConvertible, Sendable {
        public var offset: Int
        public var problem: String
        public var description: String { "event file: byte \(offset): \(problem)" }
    }

    /// Every event of an event file, checking both CRCs of every record.
    public static func read(_ data: [UInt8]) throws(ReadError) -> [Event] {
        var events: [Event] = []
        var offset = 0
        func little<T: FixedWidthInteger>(_ type: T.Type, at position: Int) -> T {
            var value: T = 0
            for index in 0..<MemoryLayout<T>.size { value |= T(data[position + index]) << (8 * index) }
            return value
        }
        while offset < data.count {
            guard data.count - offset >= 12 else { throw ReadError(offset: offset, problem: "truncated record header") }
            let length = little(UInt64.self, at: offset)
            guard little(UInt32.self, at: offset + 8) == maskedCRC32C(data[offset..<(offset + 8)]) else {
                throw ReadError(offset: offset, problem: "length CRC mismatch")
            }
            guard data.count - offset >= 16, length <= UInt64(data.count - offset - 16) else { throw ReadError(offset: offset, problem: "truncated record") }
            let start = offset + 12, end = start + Int(length)
            guard little(UInt32.self, at: end) == maskedCRC32C(data[start..<end]) else {
                throw ReadError(offset: start, problem: "data CRC mismatch")
            }
            events.append(try decodeEvent(Array(data[start..<end]), offset: start))
            offset = end + 4
        }
        return events
    }

    /// A minimal protobuf reader over the fields cnnspec writes (others are skipped).
    private struct Reader {
        var bytes: [UInt8]
        var position = 0
        let base: Int

        var atEnd: Bool { position >= bytes.count }

        mutating func varint() throws(ReadError) -> UInt64 {
            var value: UInt64 = 0, shift: UInt64 = 0
            while true {
                guard position < bytes.count, shift < 64 else { throw ReadError(offset: base + position, problem: "bad varint") }
                let byte = bytes[position]
                position += 1
                value |= UInt64(byte & 0x7f) << shift
                if byte & 0x80 == 0 { return value }
                shift += 7
            }
        }

        mutating func take(_ count: Int) throws(ReadError) -> [UInt8] {
            guard count >= 0, count <= bytes.count - position else { throw ReadError(offset: base + position, problem: "field runs past its message") }
            defer { position += count }
            return Array(bytes[position..<(position + count)])
        }

        /// The next field's number, wire type and raw payload (varints as their value in 8 bytes).
        mutating func field() throws(ReadError) -> (number: Int, wireType: UInt64, payload: [UInt8], value: UInt64) {
            let key = try varint()
            let wireType = key & 7, number = Int(key >> 3)
            switch wireType {
            case 0: return (number, wireType, [], try varint())
            case 1: return (number, wireType, try take(8), 0)
            case 2: return (number, wireType, try take(Int(try varint())), 0)
            case 5: return (number, wireType, try take(4), 0)
            default: throw ReadError(offset: base + position, problem: "unsupported wire type \(wireType)")
            }
        }
    }

    private static func littleEndian<T: FixedWidthInteger>(_ bytes: [UInt8], as type: T.Type) -> T {
        bytes.enumerated().reduce(T(0)) { $0 | T($1.element) << (8 * $1.offset) }
    }

    private static func decodeEvent(_ bytes: [UInt8], offset: Int) throws(ReadError) -> Event {
        var event = Event(wallTime: 0, step: 0, fileVersion: nil, scalars: [], sessionStatus: nil)
        var reader = Reader(bytes: bytes, base: offset)
        while !reader.atEnd {
            let field = try reader.field()
            switch (field.number, field.wireType) {
            case (Field.wallTime, 1): event.wallTime = Double(bitPattern: littleEndian(field.payload, as: UInt64.self))
            case (Field.step, 0): event.step = Int64(bitPattern: field.value)
            case (Field.fileVersion, 2): event.fileVersion = String(decoding: field.payload, as: UTF8.self)
            case (Field.summary, 2):
                var summary = Reader(bytes: field.payload, base: offset)
                while !summary.atEnd {
                    let value = try summary.field()
                    guard value.number == Field.summaryValue, value.wireType == 2 else { continue }
                    var inner = Reader(bytes: value.payload, base: offset)
                    var scalar = Scalar(tag: "", value: .nan)
                    while !inner.atEnd {
                        let part = try inner.field()
                        if part.number == Field.valueTag, part.wireType == 2 { scalar.tag = String(decoding: part.payload, as: UTF8.self) }
                        if part.number == Field.valueSimpleValue, part.wireType == 5 {
                            scalar.value = Float(bitPattern: littleEndian(part.payload, as: UInt32.self))
                        }
                    }
                    event.scalars.append(scalar)
                }
            case (Field.sessionLog, 2):
                var log = Reader(bytes: field.payload, base: offset)
                while !log.atEnd {
                    let part = try log.field()
                    if part.number == Field.sessionStatus, part.wireType == 0 { event.sessionStatus = part.value }
                }
            default: continue
            }
        }
        return event
    }
}

/// Appends scalar events to a run folder's `events.out.tfevents.<seconds>.<host>` (one file per process,
/// as TensorBoard's own writers do; TensorBoard reads every file of a folder in order).
public final class TensorBoardWriter {
    public let url: URL
    private let handle: FileHandle

    /// Creates the event file in `folder` and writes the file-version record; `resumedAt` (the iteration
    /// a resumed run continues from) adds a session-start record there.
    public init(folder: URL, resumedAt step: Int? = nil, date: Date = Date()) throws(FileWriteError) {
        let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "localhost"
        url = folder.appendingPathComponent(TensorBoardEvents.filePrefix + "\(Int(date.timeIntervalSince1970)).\(host).\(getpid())")
        let descriptor = open(url.path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw FileWriteError(path: url.path, reason: "cannot create the TensorBoard event file: \(String(cString: strerror(errno)))")
        }
        handle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
        try write(TensorBoardEvents.event(wallTime: date.timeIntervalSince1970, step: 0, fileVersion: TensorBoardEvents.fileVersion))
        if let step {
            try write(TensorBoardEvents.event(wallTime: date.timeIntervalSince1970, step: Int64(step),
                                              sessionStatus: TensorBoardEvents.sessionStart))
        }
    }

    /// Scalars at `step`.
    public func write(step: Int, scalars: [TensorBoardEvents.Scalar]) throws(FileWriteError) {
        guard !scalars.isEmpty else { return }
        try write(TensorBoardEvents.event(wallTime: Date().timeIntervalSince1970, step: Int64(step), scalars: scalars))
    }

    /// The scalars of a metrics.csv row: `train/loss` and `train/accuracy` (with `learning_rate` and
    /// `train/images_per_second`) for the rows every `train.log_every` iterations, `train_epoch/…` for the
    /// end-of-epoch means, `validation/…` and `test/…`.
    public func write(_ row: MetricsRow) throws(FileWriteError) {
        let prefix = row.isEpochRow ? "train_epoch" : row.split
        var scalars = [TensorBoardEvents.Scalar(tag: prefix + "/loss", value: Float(row.loss)),
                       TensorBoardEvents.Scalar(tag: prefix + "/accuracy", value: Float(row.accuracy))]
        if row.isIntervalRow {
            scalars.append(.init(tag: "learning_rate", value: Float(row.learningRate)))
            if let throughput = row.imagesPerSecond { scalars.append(.init(tag: "train/images_per_second", value: Float(throughput))) }
        }
        try write(step: row.iteration, scalars: scalars)
    }

    private func write(_ event: [UInt8]) throws(FileWriteError) {
        do {
            try handle.write(contentsOf: TensorBoardEvents.record(event))
        } catch {
            throw FileWriteError(path: url.path, reason: error.localizedDescription)
        }
    }
}
