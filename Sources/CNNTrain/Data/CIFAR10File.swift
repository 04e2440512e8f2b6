/// CIFAR-10's binary batches: records of one label byte (0…9) and 3072 image bytes (3×32×32, CHW).
public enum CIFAR10File {
    public static let recordBytes = 1 + 3 * 32 * 32

    /// Reads one batch file (`data_batch_N.bin`, `test_batch.bin`; normally 10 000 records).
    public static func read(path: String) throws(DataError) -> (pixels: [UInt8], labels: [UInt8]) {
        let bytes = try CompressedFile.contents(of: path)
        guard !bytes.isEmpty, bytes.count % recordBytes == 0 else {
            throw DataError("\(path): \(bytes.count) bytes is not a whole number of \(recordBytes)-byte CIFAR-10 records "
                            + "(\(bytes.count / recordBytes) complete, \(bytes.count % recordBytes) bytes left over)",
                            hint: "the file is truncated or not a CIFAR-10 binary batch; a full batch is 30730000 bytes")
        }
        let count = bytes.count / recordBytes
        var pixels = [UInt8](repeating: 0, count: count * (recordBytes - 1))
        var labels = [UInt8](repeating: 0, count: count)
        for record in 0..<count {
            let start = record * recordBytes
            guard bytes[start] < 10 else {
                throw DataError("\(path): record \(record) has label \(bytes[start]), outside 0...9",
                                hint: "this is not a CIFAR-10 binary batch (CIFAR-100 has two label bytes)")
            }
            labels[record] = bytes[start]
            pixels.withUnsafeMutableBufferPointer { destination in
                bytes.withUnsafeBufferPointer { source in
                    (destination.baseAddress! + record * (recordBytes - 1))  // invariant: sized count × 3072
                        .update(from: source.baseAddress! + start + 1, count: recordBytes - 1)
                }
            }
        }
        return (pixels, labels)
    }
}
