/// Combines the per-thread partial gradients of the weight-gradient passes.
enum ConvolutionReduction {
    /// Adds the partial weight and bias gradients of slots 1..<slots into slot 0's (`gradWeight`, `gradBias`).
    static func addPartials(weights: [UnsafeMutablePointer<Float>], bias: UnsafeMutablePointer<Float>, slots: Int,
                            into gradWeight: UnsafeMutablePointer<Float>, gradBias: UnsafeMutablePointer<Float>?,
                            weightCount: Int, outChannels: Int) {
        for slot in 1..<max(slots, 1) {
            Elementwise.accumulate(count: weightCount, weights[slot], into: gradWeight)
            if let gradBias {
                Elementwise.accumulate(count: outChannels, bias + slot * outChannels, into: gradBias)
            }
        }
    }
}
