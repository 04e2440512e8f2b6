import CNNKernels

/// An element-wise non-linearity (ReLU, leaky ReLU, sigmoid, tanh).
final class ActivationLayer: ExecutableLayer {
    private let wiring: LayerWiring
    private let kind: ActivationKind
    private let pool: ThreadPool

    init(wiring: LayerWiring, kind: ActivationKind, pool: ThreadPool) {
        self.wiring = wiring; self.kind = kind; self.pool = pool
    }

    func forward(batch: Int, training: Bool) {
        Activation.forward(kind, count: batch * wiring.outputShape.elementCount, input: wiring.input,
                           output: wiring.output, pool: pool)
    }

    func backward(batch: Int) {
        guard let gradInput = wiring.inputGradient else { return }
        Activation.backward(kind, count: batch * wiring.outputShape.elementCount, input: wiring.input,
                            output: wiring.output, gradOutput: wiring.outputGradient, gradInput: gradInput, pool: pool)
    }
}
