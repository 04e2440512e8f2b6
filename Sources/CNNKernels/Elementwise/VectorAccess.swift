/// Unaligned 16- and 32-lane loads and stores used by the element-wise, pooling and optimizer kernels.
enum VectorAccess {
    @inline(__always) static func load16(_ pointer: UnsafePointer<Float>) -> SIMD16<Float> {
        UnsafeRawPointer(pointer).loadUnaligned(as: SIMD16<Float>.self)
    }

    @inline(__always) static func load16(_ pointer: UnsafeMutablePointer<Float>) -> SIMD16<Float> {
        UnsafeRawPointer(pointer).loadUnaligned(as: SIMD16<Float>.self)
    }

    @inline(__always) static func load32(_ pointer: UnsafePointer<Float>) -> SIMD32<Float> {
        UnsafeRawPointer(pointer).loadUnaligned(as: SIMD32<Float>.self)
    }

    @inline(__always) static func loadIndices16(_ pointer: UnsafePointer<Int32>) -> SIMD16<Int32> {
        UnsafeRawPointer(pointer).loadUnaligned(as: SIMD16<Int32>.self)
    }

    @inline(__always) static func store(_ value: SIMD16<Float>, _ pointer: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(pointer).storeBytes(of: value, as: SIMD16<Float>.self)
    }

    @inline(__always) static func store(_ value: SIMD32<Float>, _ pointer: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(pointer).storeBytes(of: value, as: SIMD32<Float>.self)
    }

    @inline(__always) static func store(_ value: SIMD16<Int32>, _ pointer: UnsafeMutablePointer<Int32>) {
        UnsafeMutableRawPointer(pointer).storeBytes(of: value, as: SIMD16<Int32>.self)
    }
}

/// How element-wise kernels split a flat buffer over a thread pool: chunks of at least this many
/// elements (64 KiB of Float32), so tiny tensors stay on the calling thread.
enum ElementwiseChunking {
    static let minimumChunk = 16_384

    /// Runs `body(context, start, end)` over `0..<count` in parallel chunks whose starts are multiples of 16
    /// (one inline call when the buffer is small or the pool has one thread). No heap allocation.
    @inline(__always) static func forEachChunk<Context>(_ count: Int, pool: ThreadPool, context: Context,
                                                        _ body: ParallelRangeTask) {
        pool.parallelFor(count, minimumChunk: minimumChunk, chunkAlignment: 16, context: context, body)
    }
}

/// Runs `vector(i)` for i = 0, 16, 32, … while 16 elements remain, then `scalar(i)` for the rest.
@inline(__always) func forEachVectorBlock(_ count: Int, _ vector: (Int) -> Void, scalar: (Int) -> Void) {
    var index = 0
    while index + 16 <= count {
        vector(index)
        index += 16
    }
    while index < count {
        scalar(index)
        index += 1
    }
}

/// The 8- and 4-lane loads and stores of the 2×2 pooling paths' narrow-row blocks.
extension VectorAccess {
    @inline(__always) static func load8(_ pointer: UnsafePointer<Float>) -> SIMD8<Float> {
        UnsafeRawPointer(pointer).loadUnaligned(as: SIMD8<Float>.self)
    }

    @inline(__always) static func load4(_ pointer: UnsafePointer<Float>) -> SIMD4<Float> {
        UnsafeRawPointer(pointer).loadUnaligned(as: SIMD4<Float>.self)
    }

    @inline(__always) static func loadIndices8(_ pointer: UnsafePointer<Int32>) -> SIMD8<Int32> {
        UnsafeRawPointer(pointer).loadUnaligned(as: SIMD8<Int32>.self)
    }

    @inline(__always) static func loadIndices4(_ pointer: UnsafePointer<Int32>) -> SIMD4<Int32> {
        UnsafeRawPointer(pointer).loadUnaligned(as: SIMD4<Int32>.self)
    }

    @inline(__always) static func store(_ value: SIMD8<Float>, _ pointer: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(pointer).storeBytes(of: value, as: SIMD8<Float>.self)
    }

    @inline(__always) static func store(_ value: SIMD4<Float>, _ pointer: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(pointer).storeBytes(of: value, as: SIMD4<Float>.self)
    }
}
