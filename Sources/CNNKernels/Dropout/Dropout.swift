/// Inverted dropout (PyTorch `nn.Dropout` / `nn.Dropout2d` in training mode) driven by a seeded
/// generator, so a run is reproducible from its seed.
public enum Dropout {
    /// Inverted dropout: output = input·mask, mask ∈ {0, 1/(1−p)}; p = 0 copies, p = 1 zeroes.
    public static func forward(count: Int, p: Float, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>,
                               mask: UnsafeMutablePointer<Float>, generator: inout SeededGenerator) {
        fillMask(count: count, p: p, mask: mask, generator: &generator)
        multiply(count, input, mask, output)
    }

    public static func backward(count: Int, gradOutput: UnsafePointer<Float>, mask: UnsafePointer<Float>,
                                gradInput: UnsafeMutablePointer<Float>) {
        multiply(count, gradOutput, mask, gradInput)
    }

    /// Dropout2d: one mask value per (image, channel), mask has batch·channels entries.
    public static func forward2d(batch: Int, channels: Int, spatial: Int, p: Float, input: UnsafePointer<Float>,
                                 output: UnsafeMutablePointer<Float>, mask: UnsafeMutablePointer<Float>,
                                 generator: inout SeededGenerator) {
        fillMask(count: batch * channels, p: p, mask: mask, generator: &generator)
        scalePlanes(batch * channels, spatial, input, mask, output)
    }

    public static func backward2d(batch: Int, channels: Int, spatial: Int, gradOutput: UnsafePointer<Float>,
                                  mask: UnsafePointer<Float>, gradInput: UnsafeMutablePointer<Float>) {
        scalePlanes(batch * channels, spatial, gradOutput, mask, gradInput)
    }

    /// mask[i] = 1/(1−p) with probability 1 − p, else 0 (two uniforms per 64-bit draw).
    static func fillMask(count: Int, p: Float, mask: UnsafeMutablePointer<Float>, generator: inout SeededGenerator) {
        if p <= 0 {
            Elementwise.fill(count: count, value: 1, mask)
            return
        }
        if p >= 1 {
            Elementwise.fill(count: count, value: 0, mask)
            return
        }
        let keep = 1 / (1 - p)
        var index = 0
        while index + 2 <= count {
            let (first, second) = generator.nextUnitFloatPair()
            mask[index] = first < p ? 0 : keep
            mask[index + 1] = second < p ? 0 : keep
            index += 2
        }
        if index < count {
            mask[index] = generator.nextUnitFloatPair().0 < p ? 0 : keep
        }
    }

    private static func multiply(_ count: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>) {
        var index = 0
        while index + 16 <= count {
            VectorAccess.store(VectorAccess.load16(a + index) * VectorAccess.load16(b + index), out + index)
            index += 16
        }
        while index < count {
            out[index] = a[index] * b[index]
            index += 1
        }
    }

    private static func scalePlanes(_ planes: Int, _ spatial: Int, _ source: UnsafePointer<Float>,
                                    _ scales: UnsafePointer<Float>, _ destination: UnsafeMutablePointer<Float>) {
        for plane in 0..<planes {
            let scale = scales[plane]
            let from = source + plane * spatial, to = destination + plane * spatial
            var index = 0
            while index + 16 <= spatial {
                VectorAccess.store(VectorAccess.load16(from + index) * scale, to + index)
                index += 16
            }
            while index < spatial {
                to[index] = from[index] * scale
                index += 1
            }
        }
    }
}
