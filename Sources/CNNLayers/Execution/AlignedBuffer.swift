/// A fixed-size, zero-initialised, 64-byte-aligned buffer allocated once and freed with its owner.
///
/// Plans keep every activation, gradient and workspace in these so that no training step allocates.
public final class AlignedBuffer<Element: BitwiseCopyable> {
    public let pointer: UnsafeMutablePointer<Element>
    public let count: Int

    /// Bytes a buffer of `count` elements allocates, for memory statements (`ExecutableOperation.memory`).
    public static func byteCount(_ count: Int) -> Double { Double(max(1, count)) * Double(MemoryLayout<Element>.stride) }

    public init(count: Int) {
        self.count = count
        let bytes = max(1, count) * MemoryLayout<Element>.stride
        let raw = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
        pointer = raw.bindMemory(to: Element.self, capacity: max(1, count))
    }

    deinit { UnsafeMutableRawPointer(pointer).deallocate() }

    /// The contents as a buffer pointer (no copy).
    public var buffer: UnsafeMutableBufferPointer<Element> { UnsafeMutableBufferPointer(start: pointer, count: count) }
}
