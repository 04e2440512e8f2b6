import CNNKernels

/// Dropout (element-wise) or Dropout2d (whole channels); the identity in evaluation mode.
final class DropoutLayer: ExecutableLayer {
    private let wiring: LayerWiring
    private let probability: Float
    private let channelWise: Bool
    private let mask: AlignedBuffer<Float>
    private var generator: SeededGenerator
    private var maskIsActive = false

    init(wiring: LayerWiring, probability: Float, channelWise: Bool, batchCapacity: Int, seed: UInt64) {
        self.wiring = wiring; self.probability = probability; self.channelWise = channelWise
        let perImage = channelWise ? wiring.outputShape.chw.channels : wiring.outputShape.elementCount
        mask = AlignedBuffer(count: batchCapacity * perImage)
        generator = SeededGenerator(seed: seed)
    }

    func forward(batch: Int, training: Bool) {
        let count = batch * wiring.outputShape.elementCount
        maskIsActive = training && probability > 0
        guard maskIsActive else {
            wiring.output.update(from: wiring.input, count: count)
            return
        }
        if channelWise {
            let (channels, height, width) = wiring.outputShape.chw
            Dropout.forward2d(batch: batch, channels: channels, spatial: height * width, p: probability,
                              input: wiring.input, output: wiring.output, mask: mask.pointer, generator: &generator)
        } else {
            Dropout.forward(count: count, p: probability, input: wiring.input, output: wiring.output,
                            mask: mask.pointer, generator: &generator)
        }
    }

    func backward(batch: Int) {
        guard let gradInput = wiring.inputGradient else { return }
        let count = batch * wiring.outputShape.elementCount
        guard maskIsActive else {
            gradInput.update(from: wiring.outputGradient, count: count)
            return
        }
        if channelWise {
            let (channels, height, width) = wiring.outputShape.chw
            Dropout.backward2d(batch: batch, channels: channels, spatial: height * width,
                               gradOutput: wiring.outputGradient, mask: mask.pointer, gradInput: gradInput)
        } else {
            Dropout.backward(count: count, gradOutput: wiring.outputGradient, mask: mask.pointer, gradInput: gradInput)
        }
    }
}
