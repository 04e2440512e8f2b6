/// The IDX format of MNIST and Fashion-MNIST: a big-endian magic (0x0000_08 then the number of
/// dimensions), one big-endian UInt32 per dimension, then unsigned bytes. Raw or gzip-compressed.
public enum IDXFile {
    /// Magic number of an image file: unsigned bytes, 3 dimensions (count, rows, columns).
    public static let imagesMagic: UInt32 = 0x0000_0803
    /// Magic number of a label file: unsigned bytes, 1 dimension (count).
    public static let labelsMagic: UInt32 = 0x0000_0801

    /// Most images (or labels) an IDX file may declare: 10 million, over a hundred times MNIST.
    public static let largestCount = 10_000_000
    /// Largest image side an IDX image file may declare (MNIST's is 28).
    public static let largestSide = 4_096
    /// Largest pixel payload an IDX image file may declare: 1 GiB (MNIST's training file is 47 MB).
    /// Declared sizes are checked against these bounds before anything is allocated or inflated.
    public static let largestPayloadBytes = 1 << 30

    /// Images as `count` × `rows` × `columns` bytes.
    public static func readImages(path: String) throws(DataError) -> (count: Int, rows: Int, columns: Int, pixels: [UInt8]) {
        var dims: [Int] = []
        let bytes = try CompressedFile.contents(of: path, headerBytes: 16) { header throws(DataError) in
            dims = try self.header(header, path: path, magic: imagesMagic, kind: "an IDX image file")
            guard dims[1] > 0, dims[2] > 0 else { throw DataError("\(path): images of \(dims[1])×\(dims[2]) pixels") }
            try checkBounds(dims, path: path, kind: "images")
            return 16 + dims[0] * dims[1] * dims[2]  // bounded by checkBounds
        }
        if dims.isEmpty { dims = try header(bytes, path: path, magic: imagesMagic, kind: "an IDX image file") }
        let payload = dims[0] * dims[1] * dims[2]
        try checkSize(bytes, path: path, headerBytes: 16, payload: payload, what: "\(dims[0]) images of \(dims[1])×\(dims[2])")
        return (dims[0], dims[1], dims[2], Array(bytes[16...]))
    }

    /// Labels, each checked to be below `classCount`.
    public static func readLabels(path: String, classCount: Int) throws(DataError) -> [UInt8] {
        var dims: [Int] = []
        let bytes = try CompressedFile.contents(of: path, headerBytes: 8) { header throws(DataError) in
            dims = try self.header(header, path: path, magic: labelsMagic, kind: "an IDX label file")
            try checkBounds(dims, path: path, kind: "labels")
            return 8 + dims[0]
        }
        if dims.isEmpty { dims = try header(bytes, path: path, magic: labelsMagic, kind: "an IDX label file") }
        try checkSize(bytes, path: path, headerBytes: 8, payload: dims[0], what: "\(dims[0]) labels")
        let labels = Array(bytes[8...])
        if let index = labels.firstIndex(where: { Int($0) >= classCount }) {
            throw DataError("\(path): label \(labels[index]) at index \(index) is outside 0...\(classCount - 1)",
                            hint: "the file is corrupt or belongs to another dataset")
        }
        return labels
    }

    /// Refuses declared dimensions beyond what a dataset file can be, with checked arithmetic.
    private static func checkBounds(_ dims: [Int], path: String, kind: String) throws(DataError) {
        let hint = "the header is corrupt or the file is not an MNIST-style dataset; fetch it again"
        guard dims[0] <= largestCount else {
            throw DataError("\(path): the header declares \(dims[0]) \(kind), more than the \(largestCount) an IDX file may hold",
                            hint: hint)
        }
        guard dims.count == 3 else { return }
        guard dims[1] <= largestSide, dims[2] <= largestSide else {
            throw DataError("\(path): the header declares \(dims[1])×\(dims[2])-pixel images; "
                            + "each side may be at most \(largestSide)", hint: hint)
        }
        let perImage = dims[1] * dims[2]  // ≤ 4096², no overflow
        let total = dims[0].multipliedReportingOverflow(by: perImage)
        guard !total.overflow, total.partialValue <= largestPayloadBytes else {
            throw DataError("\(path): the header declares \(dims[0]) images of \(dims[1])×\(dims[2]) pixels, "
                            + "more than the \(largestPayloadBytes) bytes an IDX file may hold", hint: hint)
        }
    }

    private static func header(_ bytes: [UInt8], path: String, magic: UInt32, kind: String) throws(DataError) -> [Int] {
        let dimensions = Int(magic & 0xff)
        let headerBytes = 4 + 4 * dimensions
        guard bytes.count >= headerBytes else {
            throw DataError("\(path): only \(bytes.count) bytes, too short for the \(headerBytes)-byte header of \(kind)",
                            hint: "the file is truncated; fetch it again")
        }
        let found = bigEndian(bytes, at: 0)
        guard found == magic else {
            let hex = { (value: UInt32) in "0x" + String(value, radix: 16, uppercase: true).leftPadded(to: 8) }
            throw DataError("\(path): magic number \(hex(found)), expected \(hex(magic)) for \(kind)",
                            hint: found == (magic == imagesMagic ? labelsMagic : imagesMagic)
                                ? "images and labels files are swapped" : "this is not \(kind)")
        }
        return (0..<dimensions).map { Int(bigEndian(bytes, at: 4 + 4 * $0)) }
    }

    private static func checkSize(_ bytes: [UInt8], path: String, headerBytes: Int, payload: Int, what: String) throws(DataError) {
        let actual = bytes.count - headerBytes
        guard actual == payload else {
            let problem = actual < payload ? "is truncated" : "has \(actual - payload) extra bytes"
            throw DataError("\(path): the header announces \(what) (\(payload) bytes) but the file \(problem): \(actual) bytes of data",
                            hint: "fetch the file again")
        }
    }

    private static func bigEndian(_ bytes: [UInt8], at offset: Int) -> UInt32 {
        (0..<4).reduce(0) { $0 << 8 | UInt32(bytes[offset + $1]) }
    }
}

extension String {
    func leftPadded(to width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}
