/// torch.optim.RMSprop, step for step (`_single_tensor_rmsprop`):
/// g = grad + wd·param; sq = α·sq + (1−α)·g²; centred: ga = ga + (1−α)·(g − ga), avg = √(sq − ga²) + ε,
/// else avg = √sq + ε (ε outside the root, as PyTorch adds it); with momentum μ > 0:
/// buf = μ·buf + g/avg, param −= lr·buf; without: param −= lr·g/avg. All state starts at zero.
public enum RMSpropUpdate {
    /// One update of `count` parameters. `momentumBuffer` is read when `momentum` > 0 and `gradientAverage`
    /// when `centered`; both may be nil otherwise.
    public static func step(count: Int, parameter: UnsafeMutablePointer<Float>, gradient: UnsafePointer<Float>,
                            squareAverage: UnsafeMutablePointer<Float>, gradientAverage: UnsafeMutablePointer<Float>?,
                            momentumBuffer: UnsafeMutablePointer<Float>?, learningRate: Float, alpha: Float,
                            epsilon: Float, weightDecay: Float, momentum: Float, centered: Bool) {
        let decay = SIMD16<Float>(repeating: weightDecay), a = SIMD16<Float>(repeating: alpha)
        let oneMinusA = SIMD16<Float>(repeating: 1 - alpha), eps = SIMD16<Float>(repeating: epsilon)
        let lr = SIMD16<Float>(repeating: learningRate), mu = SIMD16<Float>(repeating: momentum)
        let average = centered ? gradientAverage : nil
        let buffer = momentum > 0 ? momentumBuffer : nil
        forEachVectorBlock(count) { i in
            let p = VectorAccess.load16(parameter + i)
            let g = VectorAccess.load16(gradient + i).addingProduct(decay, p)
            let sq = (VectorAccess.load16(squareAverage + i) * a).addingProduct(oneMinusA, g * g)
            VectorAccess.store(sq, squareAverage + i)
            var variance = sq
            if let average {
                let old = VectorAccess.load16(average + i)
                let ga = old.addingProduct(oneMinusA, g - old)
                VectorAccess.store(ga, average + i)
                variance = sq.addingProduct(-ga, ga)
            }
            let denominator = VectorMath.squareRoot(variance) + eps
            if let buffer {
                let b = (VectorAccess.load16(buffer + i) * mu) + g / denominator
                VectorAccess.store(b, buffer + i)
                VectorAccess.store(p.addingProduct(-lr, b), parameter + i)
            } else {
                VectorAccess.store(p.addingProduct(-lr, g / denominator), parameter + i)
            }
        } scalar: { i in
            let p = parameter[i]
            let g = gradient[i].addingProduct(weightDecay, p)
            let sq = (squareAverage[i] * alpha).addingProduct(1 - alpha, g * g)
            squareAverage[i] = sq
            var variance = sq
            if let average {
                let ga = average[i].addingProduct(1 - alpha, g - average[i])
                average[i] = ga
                variance = sq.addingProduct(-ga, ga)
            }
            let denominator = variance.squareRoot() + epsilon
            if let buffer {
                let b = buffer[i] * momentum + g / denominator
                buffer[i] = b
                parameter[i] = p.addingProduct(-learningRate, b)
            } else {
                parameter[i] = p.addingProduct(-learningRate, g / denominator)
            }
        }
    }
}
