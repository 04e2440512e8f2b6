/// Fully connected layer, PyTorch layout: weight [out, in].
public enum Linear {
    /// output[batch, out] = input[batch, in] · weightᵀ + bias
    public static func forward(batch: Int, inFeatures: Int, outFeatures: Int, input: UnsafePointer<Float>,
                               weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                               output: UnsafeMutablePointer<Float>, gemm: GEMM) {
        if batch <= 0 || outFeatures <= 0 { return }
        var beta: Float = 0
        if let bias {
            for row in 0..<batch { (output + row * outFeatures).update(from: bias, count: outFeatures) }
            beta = 1
        }
        gemm.multiply(m: batch, n: outFeatures, k: inFeatures, a: input, lda: inFeatures, transposeA: false,
                      b: weight, ldb: inFeatures, transposeB: true, c: output, ldc: outFeatures, beta: beta)
    }

    /// gradInput = gradOutput·weight (skipped when gradInput is nil); gradWeight = gradOutputᵀ·input; gradBias = Σ_batch gradOutput. Overwrites.
    public static func backward(batch: Int, inFeatures: Int, outFeatures: Int, input: UnsafePointer<Float>,
                                weight: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>,
                                gradInput: UnsafeMutablePointer<Float>?, gradWeight: UnsafeMutablePointer<Float>,
                                gradBias: UnsafeMutablePointer<Float>?, gemm: GEMM) {
        if let gradInput {
            gemm.multiply(m: batch, n: inFeatures, k: outFeatures, a: gradOutput, lda: outFeatures, transposeA: false,
                          b: weight, ldb: inFeatures, transposeB: false, c: gradInput, ldc: inFeatures)
        }
        gemm.multiply(m: outFeatures, n: inFeatures, k: batch, a: gradOutput, lda: outFeatures, transposeA: true,
                      b: input, ldb: inFeatures, transposeB: false, c: gradWeight, ldc: inFeatures)
        if let gradBias {
            gradBias.update(repeating: 0, count: outFeatures)
            for row in 0..<batch {
                let source = gradOutput + row * outFeatures
                for j in 0..<outFeatures { gradBias[j] += source[j] }
            }
        }
    }
}
