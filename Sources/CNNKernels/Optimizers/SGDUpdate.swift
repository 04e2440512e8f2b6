/// PyTorch torch.optim.SGD semantics: g = grad + wd·param; if momentum ≠ 0: buf = g on the first step,
/// else buf = momentum·buf + (1−dampening)·g; g = nesterov ? g + momentum·buf : buf; param −= lr·g.
public enum SGDUpdate {
    /// One update of `count` parameters. `momentumBuffer` is required when `momentum` ≠ 0 (ignored otherwise).
    public static func step(count: Int, parameter: UnsafeMutablePointer<Float>, gradient: UnsafePointer<Float>,
                            momentumBuffer: UnsafeMutablePointer<Float>?, isFirstStep: Bool, learningRate: Float,
                            momentum: Float, dampening: Float, nesterov: Bool, weightDecay: Float) {
        let lr = SIMD16<Float>(repeating: learningRate), decay = SIMD16<Float>(repeating: weightDecay)
        guard momentum != 0, let buffer = momentumBuffer else {
            forEachVectorBlock(count) { i in
                let p = VectorAccess.load16(parameter + i)
                let g = VectorAccess.load16(gradient + i).addingProduct(decay, p)
                VectorAccess.store(p.addingProduct(-lr, g), parameter + i)
            } scalar: { i in
                let g = gradient[i].addingProduct(weightDecay, parameter[i])
                parameter[i] = parameter[i].addingProduct(-learningRate, g)
            }
            return
        }
        // The first step sets buf = g without reading the (possibly uninitialised) buffer.
        let mu = SIMD16<Float>(repeating: momentum), undamped = SIMD16<Float>(repeating: 1 - dampening)
        let keep = mu
        forEachVectorBlock(count) { i in
            let p = VectorAccess.load16(parameter + i)
            let g = VectorAccess.load16(gradient + i).addingProduct(decay, p)
            let b = isFirstStep ? g : (VectorAccess.load16(buffer + i) * keep).addingProduct(undamped, g)
            VectorAccess.store(b, buffer + i)
            let direction = nesterov ? g.addingProduct(mu, b) : b
            VectorAccess.store(p.addingProduct(-lr, direction), parameter + i)
        } scalar: { i in
            let g = gradient[i].addingProduct(weightDecay, parameter[i])
            let b = isFirstStep ? g : (buffer[i] * keep[0]).addingProduct(undamped[0], g)
            buffer[i] = b
            let direction = nesterov ? g.addingProduct(momentum, b) : b
            parameter[i] = parameter[i].addingProduct(-learningRate, direction)
        }
    }
}
