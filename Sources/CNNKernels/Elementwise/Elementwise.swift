/// Flat element-wise arithmetic on Float32 buffers (residual sums, gradient accumulation, fills).
public enum Elementwise {
    /// out = a + b. `out` may alias `a` or `b`.
    public static func add(count: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>) {
        var index = 0
        while index + 16 <= count {
            VectorAccess.store(VectorAccess.load16(a + index) + VectorAccess.load16(b + index), out + index)
            index += 16
        }
        while index < count {
            out[index] = a[index] + b[index]
            index += 1
        }
    }

    /// destination += source
    public static func accumulate(count: Int, _ source: UnsafePointer<Float>, into destination: UnsafeMutablePointer<Float>) {
        var index = 0
        while index + 16 <= count {
            VectorAccess.store(VectorAccess.load16(destination + index) + VectorAccess.load16(source + index), destination + index)
            index += 16
        }
        while index < count {
            destination[index] += source[index]
            index += 1
        }
    }

    /// Sets `count` elements of `destination` to `value`.
    public static func fill(count: Int, value: Float, _ destination: UnsafeMutablePointer<Float>) {
        let vector = SIMD16<Float>(repeating: value)
        var index = 0
        while index + 16 <= count {
            VectorAccess.store(vector, destination + index)
            index += 16
        }
        while index < count {
            destination[index] = value
            index += 1
        }
    }
}
