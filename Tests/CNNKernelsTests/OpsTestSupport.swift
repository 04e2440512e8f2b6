import CNNKernels

/// A heap buffer for kernel tests: filled from an array, read back as an array, freed on deinit.
final class OpsBuffer<Element> {
    let pointer: UnsafeMutablePointer<Element>
    let count: Int

    init(_ values: [Element]) {
        count = values.count
        pointer = .allocate(capacity: max(values.count, 1))
        pointer.initialize(from: values, count: values.count)
    }

    init(repeating value: Element, count: Int) {
        self.count = count
        pointer = .allocate(capacity: max(count, 1))
        pointer.initialize(repeating: value, count: max(count, 1))
    }

    deinit { pointer.deallocate() }

    var array: [Element] { Array(UnsafeBufferPointer(start: pointer, count: count)) }
    var readOnly: UnsafePointer<Element> { UnsafePointer(pointer) }
}

enum OpsTestSupport {
    /// Reproducible values in [−scale, scale).
    static func randomValues(_ count: Int, seed: UInt64, scale: Float = 1) -> [Float] {
        var generator = SeededGenerator(seed: seed)
        return (0..<count).map { _ in Float.random(in: -scale..<scale, using: &generator) }
    }

    /// Distinct values at least 0.01 apart, shuffled: no ties, no near-ties, for checking max pooling.
    static func distinctValues(_ count: Int, seed: UInt64) -> [Float] {
        var generator = SeededGenerator(seed: seed)
        return (0..<count).map { Float($0) * 0.01 - Float(count) * 0.005 }.shuffled(using: &generator)
    }

    /// Central finite difference of `loss` at every coordinate of `x`.
    static func numericalGradient(_ x: [Float], step: Float = 1e-2, _ loss: ([Float]) -> Double) -> [Float] {
        var probe = x
        return (0..<x.count).map { index in
            probe[index] = x[index] + step
            let plus = loss(probe)
            probe[index] = x[index] - step
            let minus = loss(probe)
            probe[index] = x[index]
            return Float((plus - minus) / (2 * Double(step)))
        }
    }

    /// Σ weights·values in Double: the scalar "loss" whose gradient w.r.t. values is `weights`.
    static func dot(_ weights: [Float], _ values: [Float]) -> Double {
        zip(weights, values).reduce(0) { $0 + Double($1.0) * Double($1.1) }
    }
}
