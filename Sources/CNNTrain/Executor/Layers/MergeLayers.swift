import CNNKernels

/// Element-wise sum of its inputs (a residual connection); the gradient goes to every input unchanged.
final class AddLayer: ExecutableLayer {
    private let wiring: LayerWiring

    init(wiring: LayerWiring) { self.wiring = wiring }

    func forward(batch: Int, training: Bool) {
        let count = batch * wiring.outputShape.elementCount
        Elementwise.add(count: count, wiring.inputs[0], wiring.inputs[1], into: wiring.output)
        for input in wiring.inputs.dropFirst(2) {
            Elementwise.accumulate(count: count, input, into: wiring.output)
        }
    }

    func backward(batch: Int) {
        let count = batch * wiring.outputShape.elementCount
        for case let target? in wiring.inputGradients {
            target.update(from: wiring.outputGradient, count: count)
        }
    }
}

/// Concatenation of its inputs along channels (an Inception block's output).
final class ConcatLayer: ExecutableLayer {
    private let wiring: LayerWiring

    init(wiring: LayerWiring) { self.wiring = wiring }

    func forward(batch: Int, training: Bool) {
        let outputPerImage = wiring.outputShape.elementCount
        for image in 0..<batch {
            var offset = image * outputPerImage
            for (input, shape) in zip(wiring.inputs, wiring.inputShapes) {
                let count = shape.elementCount
                (wiring.output + offset).update(from: input + image * count, count: count)
                offset += count
            }
        }
    }

    func backward(batch: Int) {
        let outputPerImage = wiring.outputShape.elementCount
        for image in 0..<batch {
            var offset = image * outputPerImage
            for (target, shape) in zip(wiring.inputGradients, wiring.inputShapes) {
                let count = shape.elementCount
                if let target { (target + image * count).update(from: wiring.outputGradient + offset, count: count) }
                offset += count
            }
        }
    }
}
