import CNNKernels

/// A convolution running on one of the kernel library's backends.
final class ConvolutionLayer: ExecutableLayer {
    let kernel: any ConvolutionKernel
    private let wiring: LayerWiring
    private let weight: UnsafeMutablePointer<Float>
    private let bias: UnsafeMutablePointer<Float>?
    private let gradWeight: UnsafeMutablePointer<Float>
    private let gradBias: UnsafeMutablePointer<Float>?

    init(kernel: any ConvolutionKernel, wiring: LayerWiring, weight: UnsafeMutablePointer<Float>,
         bias: UnsafeMutablePointer<Float>?, gradWeight: UnsafeMutablePointer<Float>, gradBias: UnsafeMutablePointer<Float>?) {
        self.kernel = kernel; self.wiring = wiring; self.weight = weight; self.bias = bias
        self.gradWeight = gradWeight; self.gradBias = gradBias
        kernel.prepare(weight: weight)
    }

    func forward(batch: Int, training: Bool) {
        kernel.forward(batch: batch, input: wiring.input, weight: weight, bias: bias, output: wiring.output)
    }

    func backward(batch: Int) {
        kernel.backwardWeights(batch: batch, input: wiring.input, gradOutput: wiring.outputGradient,
                               gradWeight: gradWeight, gradBias: gradBias)
        if let gradInput = wiring.inputGradient {
            kernel.backwardData(batch: batch, gradOutput: wiring.outputGradient, weight: weight, gradInput: gradInput)
        }
    }

    func parametersDidChange() { kernel.prepare(weight: weight) }
}
