import Foundation

/// torch.optim.Adam (L2 weight decay added to the gradient) and AdamW (decoupled: param −= lr·wd·param
/// first), bias-corrected, step ≥ 1.
public enum AdamUpdate {
    /// One update at 1-based `step`: m = β1·m + (1−β1)·g, v = β2·v + (1−β2)·g²,
    /// param −= (lr / (1−β1^t)) · m / (√v / √(1−β2^t) + ε).
    public static func step(count: Int, parameter: UnsafeMutablePointer<Float>, gradient: UnsafePointer<Float>,
                            firstMoment: UnsafeMutablePointer<Float>, secondMoment: UnsafeMutablePointer<Float>, step: Int,
                            learningRate: Float, beta1: Float, beta2: Float, epsilon: Float, weightDecay: Float,
                            decoupledWeightDecay: Bool) {
        let t = Double(max(step, 1))
        let stepSize = Float(Double(learningRate) / (1 - Foundation.pow(Double(beta1), t)))
        let inverseRootCorrection = Float(1 / Foundation.sqrt(1 - Foundation.pow(Double(beta2), t)))
        let shrink = decoupledWeightDecay ? 1 - learningRate * weightDecay : 1
        let l2 = decoupledWeightDecay ? 0 : weightDecay
        let b1 = SIMD16<Float>(repeating: beta1), b2 = SIMD16<Float>(repeating: beta2)
        let oneMinusB1 = SIMD16<Float>(repeating: 1 - beta1), oneMinusB2 = SIMD16<Float>(repeating: 1 - beta2)
        forEachVectorBlock(count) { i in
            var p = VectorAccess.load16(parameter + i)
            let g = VectorAccess.load16(gradient + i).addingProduct(l2, p)
            p *= shrink
            let m = (VectorAccess.load16(firstMoment + i) * b1).addingProduct(oneMinusB1, g)
            let v = (VectorAccess.load16(secondMoment + i) * b2).addingProduct(oneMinusB2, g * g)
            VectorAccess.store(m, firstMoment + i)
            VectorAccess.store(v, secondMoment + i)
            let denominator = VectorMath.squareRoot(v) * inverseRootCorrection + epsilon
            VectorAccess.store(p - stepSize * m / denominator, parameter + i)
        } scalar: { i in
            var p = parameter[i]
            let g = gradient[i].addingProduct(l2, p)
            p *= shrink
            let m = (firstMoment[i] * beta1).addingProduct(1 - beta1, g)
            let v = (secondMoment[i] * beta2).addingProduct(1 - beta2, g * g)
            firstMoment[i] = m
            secondMoment[i] = v
            let denominator = v.squareRoot() * inverseRootCorrection + epsilon
            parameter[i] = p - stepSize * m / denominator
        }
    }
}
