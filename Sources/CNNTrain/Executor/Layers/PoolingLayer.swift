import CNNKernels

/// Max or average pooling over each channel plane.
final class PoolingLayer: ExecutableLayer {
    enum Mode { case max, average(countIncludePad: Bool) }

    private let wiring: LayerWiring
    private let geometry: PoolingGeometry
    private let mode: Mode
    private let argmax: AlignedBuffer<Int32>?
    private let pool: ThreadPool

    init(wiring: LayerWiring, geometry: PoolingGeometry, mode: Mode, batchCapacity: Int, pool: ThreadPool) {
        self.wiring = wiring; self.geometry = geometry; self.mode = mode; self.pool = pool
        if case .max = mode {
            argmax = AlignedBuffer(count: batchCapacity * wiring.outputShape.elementCount)
        } else {
            argmax = nil
        }
    }

    func forward(batch: Int, training: Bool) {
        switch mode {
        case .max:
            MaxPooling.forward(geometry, batch: batch, input: wiring.input, output: wiring.output,
                               argmax: argmax!.pointer, pool: pool)  // invariant: max mode allocates argmax
        case .average(let countIncludePad):
            AveragePooling.forward(geometry, batch: batch, countIncludePad: countIncludePad, input: wiring.input,
                                   output: wiring.output, pool: pool)
        }
    }

    func backward(batch: Int) {
        guard let gradInput = wiring.inputGradient else { return }
        switch mode {
        case .max:
            MaxPooling.backward(geometry, batch: batch, gradOutput: wiring.outputGradient,
                                argmax: argmax!.pointer, gradInput: gradInput, pool: pool)  // invariant: as above
        case .average(let countIncludePad):
            AveragePooling.backward(geometry, batch: batch, countIncludePad: countIncludePad,
                                    gradOutput: wiring.outputGradient, gradInput: gradInput, pool: pool)
        }
    }
}
