import CNNKernels

/// A fully connected layer (weight [out, in]) on the GEMM.
final class LinearLayer: ExecutableLayer {
    private let wiring: LayerWiring
    private let inFeatures: Int
    private let outFeatures: Int
    private let weight: UnsafeMutablePointer<Float>
    private let bias: UnsafeMutablePointer<Float>?
    private let gradWeight: UnsafeMutablePointer<Float>
    private let gradBias: UnsafeMutablePointer<Float>?
    private let gemm: GEMM

    init(wiring: LayerWiring, inFeatures: Int, outFeatures: Int, weight: UnsafeMutablePointer<Float>,
         bias: UnsafeMutablePointer<Float>?, gradWeight: UnsafeMutablePointer<Float>,
         gradBias: UnsafeMutablePointer<Float>?, gemm: GEMM) {
        self.wiring = wiring; self.inFeatures = inFeatures; self.outFeatures = outFeatures
        self.weight = weight; self.bias = bias; self.gradWeight = gradWeight; self.gradBias = gradBias; self.gemm = gemm
    }

    func forward(batch: Int, training: Bool) {
        Linear.forward(batch: batch, inFeatures: inFeatures, outFeatures: outFeatures, input: wiring.input,
                       weight: weight, bias: bias, output: wiring.output, gemm: gemm)
    }

    func backward(batch: Int) {
        Linear.backward(batch: batch, inFeatures: inFeatures, outFeatures: outFeatures, input: wiring.input,
                        weight: weight, gradOutput: wiring.outputGradient, gradInput: wiring.inputGradient,
                        gradWeight: gradWeight, gradBias: gradBias, gemm: gemm)
    }
}
