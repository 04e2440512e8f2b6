/// `torch.flatten(x, 1)`: NCHW is already row-major per image, so the plan aliases the output to
/// the input and only the gradient is handed back.
final class FlattenLayer: ExecutableLayer {
    private let wiring: LayerWiring

    init(wiring: LayerWiring) { self.wiring = wiring }

    func forward(batch: Int, training: Bool) {
        if wiring.output != wiring.input {
            wiring.output.update(from: wiring.input, count: batch * wiring.outputShape.elementCount)
        }
    }

    func backward(batch: Int) {
        guard let gradInput = wiring.inputGradient, gradInput != wiring.outputGradient else { return }
        gradInput.update(from: wiring.outputGradient, count: batch * wiring.outputShape.elementCount)
    }
}
