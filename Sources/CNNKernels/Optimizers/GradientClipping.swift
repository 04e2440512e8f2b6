/// PyTorch's gradient clipping over one contiguous gradient buffer (cnnspec keeps every trainable
/// gradient in one buffer, so "all parameters" is one call).
public enum GradientClipping {
    /// Elements summed in `Float` lanes before the partial sum is added to a `Double` total: keeps
    /// the rounding error of the norm of a multi-million-element buffer near float32's, as PyTorch's
    /// per-tensor norms are.
    static let chunk = 4096

    /// The L2 norm of the first `count` elements.
    public static func norm(count: Int, _ values: UnsafePointer<Float>) -> Double {
        var total = 0.0
        var start = 0
        while start < count {
            let end = min(count, start + chunk)
            var lanes = SIMD16<Float>(repeating: 0)
            var tail: Float = 0
            forEachVectorBlock(end - start) { i in
                let v = VectorAccess.load16(values + start + i)
                lanes = lanes.addingProduct(v, v)
            } scalar: { i in
                let v = values[start + i]
                tail = tail.addingProduct(v, v)
            }
            total += Double(lanes.sum()) + Double(tail)
            start = end
        }
        return total.squareRoot()
    }

    /// `torch.nn.utils.clip_grad_norm_(params, maxNorm)`: total = ‖gradients‖₂; when
    /// maxNorm / (total + 1e-6) < 1 every gradient is multiplied by it. Returns the norm before clipping.
    @discardableResult
    public static func clipNorm(count: Int, _ gradients: UnsafeMutablePointer<Float>, maxNorm: Float) -> Double {
        let total = norm(count: count, gradients)
        let coefficient = Float(Double(maxNorm) / (total + normEpsilon))
        guard coefficient < 1 else { return total }
        let scale = SIMD16<Float>(repeating: coefficient)
        forEachVectorBlock(count) { i in
            VectorAccess.store(VectorAccess.load16(gradients + i) * scale, gradients + i)
        } scalar: { i in
            gradients[i] *= coefficient
        }
        return total
    }

    /// PyTorch's `1e-6` in `clip_coef = max_norm / (total_norm + 1e-6)`.
    public static let normEpsilon = 1e-6

    /// `torch.nn.utils.clip_grad_value_(params, limit)`: every element clamped to [−limit, limit].
    public static func clampValues(count: Int, _ gradients: UnsafeMutablePointer<Float>, limit: Float) {
        let upper = SIMD16<Float>(repeating: limit), lower = SIMD16<Float>(repeating: -limit)
        forEachVectorBlock(count) { i in
            VectorAccess.store(VectorAccess.load16(gradients + i).clamped(lowerBound: lower, upperBound: upper), gradients + i)
        } scalar: { i in
            gradients[i] = min(max(gradients[i], -limit), limit)
        }
    }
}
