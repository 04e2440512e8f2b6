import CNNKernels

/// BatchNorm2d: batch statistics while training (updating the running ones), running statistics in evaluation.
final class BatchNormLayer: ExecutableLayer {
    private let wiring: LayerWiring
    private let eps: Float
    private let momentum: Float
    private let weight, bias, gradWeight, gradBias: UnsafeMutablePointer<Float>
    private let runningMean, runningVar, batchesTracked: UnsafeMutablePointer<Float>
    private let saveMean: AlignedBuffer<Float>
    private let saveInvStd: AlignedBuffer<Float>
    private let pool: ThreadPool

    init(wiring: LayerWiring, eps: Float, momentum: Float, store: ParameterStore, name: String, pool: ThreadPool) throws {
        self.wiring = wiring; self.eps = eps; self.momentum = momentum; self.pool = pool
        func tensor(_ suffix: String) throws -> UnsafeMutablePointer<Float> {
            guard let pointer = store.pointer(name + suffix) else { throw PlanError.missingParameter(name + suffix) }
            return pointer
        }
        func gradient(_ suffix: String) throws -> UnsafeMutablePointer<Float> {
            guard let pointer = store.gradientPointer(name + suffix) else { throw PlanError.missingParameter(name + suffix) }
            return pointer
        }
        weight = try tensor(".weight"); bias = try tensor(".bias")
        gradWeight = try gradient(".weight"); gradBias = try gradient(".bias")
        runningMean = try tensor(".running_mean"); runningVar = try tensor(".running_var")
        batchesTracked = try tensor(".num_batches_tracked")
        let channels = wiring.outputShape.chw.channels
        saveMean = AlignedBuffer(count: channels)
        saveInvStd = AlignedBuffer(count: channels)
    }

    func forward(batch: Int, training: Bool) {
        let (channels, height, width) = wiring.outputShape.chw
        if training {
            BatchNorm2D.forwardTraining(batch: batch, channels: channels, spatial: height * width, eps: eps,
                                        momentum: momentum, input: wiring.input, weight: weight, bias: bias,
                                        runningMean: runningMean, runningVar: runningVar, saveMean: saveMean.pointer,
                                        saveInvStd: saveInvStd.pointer, output: wiring.output, pool: pool)
            batchesTracked.pointee += 1
        } else {
            BatchNorm2D.forwardInference(batch: batch, channels: channels, spatial: height * width, eps: eps,
                                         input: wiring.input, weight: weight, bias: bias, runningMean: runningMean,
                                         runningVar: runningVar, output: wiring.output, pool: pool)
        }
    }

    func backward(batch: Int) {
        let (channels, height, width) = wiring.outputShape.chw
        let scratch = wiring.inputGradient ?? wiring.outputGradient
        BatchNorm2D.backward(batch: batch, channels: channels, spatial: height * width, input: wiring.input,
                             gradOutput: wiring.outputGradient, weight: weight, saveMean: saveMean.pointer,
                             saveInvStd: saveInvStd.pointer, gradInput: scratch, gradWeight: gradWeight,
                             gradBias: gradBias, pool: pool)
    }
}
