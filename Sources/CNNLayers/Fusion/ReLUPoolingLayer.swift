import CNNKernels
import CNNSpec

/// ReLU → max/avg pooling as one layer (built by the plan's fusion pass): the ReLU's output and
/// gradient, each as large as the pooling input, are never materialised.
///
/// - max: `maxpool(relu(x)) = relu(maxpool(x))` (max commutes with a monotone function, and the
///   argmax is the same element), so the pool runs on x and the ReLU on the pooled output, a quarter
///   of the size for 2×2 windows; backward masks the pooled gradient in place, then scatters it to x.
/// - average: `ReLUAveragePooling`, one pass each way.
///
/// Wiring: input x (the ReLU's input), output and output gradient the pool's, input gradient x's.
public final class ReLUPoolingLayer: ExecutableLayer {
    private let wiring: LayerWiring
    private let geometry: PoolingGeometry
    private let mode: PoolingOperation.Mode
    private let argmax: AlignedBuffer<Int32>
    private let pool: ThreadPool
    /// The convolution that runs this layer's forward in its epilogue (`fuseForward`), if any: its forward
    /// writes this layer's output, and its backward expands the gradient of the images it kept in lanes.
    private var producer: (any EpilogueConvolution)?

    init(wiring: LayerWiring, geometry: PoolingGeometry, mode: PoolingOperation.Mode, argmaxCount: Int, pool: ThreadPool) {
        self.wiring = wiring; self.geometry = geometry; self.mode = mode; self.pool = pool
        argmax = AlignedBuffer(count: argmaxCount)
    }

    /// Moves this layer's forward into `producer`'s epilogue when it is a convolution on a backend that
    /// supports one (direct); the plan calls it only when this layer is the sole reader of the producer's
    /// output. Returns whether it did.
    public func fuseForward(into producer: any ExecutableLayer) -> Bool {
        guard let convolution = producer as? ConvolutionLayer, let kernel = convolution.kernel as? any EpilogueConvolution else {
            return false
        }
        let epilogueMode: ReLUPoolingEpilogue.Mode
        switch mode {
        case .max: epilogueMode = .max(argmax: argmax.pointer)
        case .average(let countIncludePad): epilogueMode = .average(countIncludePad: countIncludePad)
        }
        let epilogue = ReLUPoolingEpilogue(geometry: geometry, mode: epilogueMode, pooled: wiring.output,
                                           pooledGradient: wiring.outputGradient, slots: pool.threadCount)
        kernel.epilogue = epilogue
        self.producer = kernel
        return true
    }

    public func forward(batch: Int, training: Bool) {
        if producer != nil { return }  // the convolution before it did the work
        switch mode {
        case .max:
            MaxPooling.forward(geometry, batch: batch, input: wiring.input, output: wiring.output, argmax: argmax.pointer, pool: pool)
            Activation.forward(.relu, count: batch * wiring.outputShape.elementCount, input: wiring.output,
                               output: wiring.output, pool: pool)
        case .average(let countIncludePad):
            ReLUAveragePooling.forward(geometry, batch: batch, countIncludePad: countIncludePad, input: wiring.input,
                                       output: wiring.output, pool: pool)
        }
    }

    /// The images the producing convolution says it expands itself (`imagesExpandedByEpilogue`, from the
    /// batch) are skipped: its backward, which the plan runs after this one, writes their part of `gradInput`
    /// from the pooled gradient (`ReLUPoolingEpilogue.expandGradient`).
    public func backward(batch: Int) {
        guard let gradInput = wiring.inputGradient else { return }
        let first = min(batch, producer?.imagesExpandedByEpilogue(batch: batch) ?? 0), images = batch - first
        if images == 0 { return }
        let inImage = wiring.inputShape.elementCount, outImage = wiring.outputShape.elementCount
        let pooled = wiring.output + first * outImage, gradPooled = wiring.outputGradient + first * outImage
        let x = wiring.input + first * inImage, gradX = gradInput + first * inImage
        switch mode {
        case .max:
            // The pooled gradient is this layer's own buffer, complete once its consumers ran: masked in place.
            Activation.backward(.relu, count: images * outImage, input: pooled, output: pooled, gradOutput: gradPooled,
                                gradInput: gradPooled, pool: pool)
            MaxPooling.backward(geometry, batch: images, gradOutput: gradPooled, argmax: argmax.pointer + first * outImage,
                                gradInput: gradX, pool: pool)
        case .average(let countIncludePad):
            ReLUAveragePooling.backward(geometry, batch: images, countIncludePad: countIncludePad, input: x,
                                        gradOutput: gradPooled, gradInput: gradX, pool: pool)
        }
    }
}

extension PoolingOperation {
    /// The fused ReLU → this pooling layer over `context.wiring`, whose input is the ReLU's input.
    public func makeFusedReLULayer(_ context: LayerBuildContext) throws -> any ExecutableLayer {
        guard !ceilMode else { throw PlanError.unsupported(layer: context.name, reason: "ceil_mode is not executable yet") }
        return ReLUPoolingLayer(wiring: context.wiring, geometry: geometry(input: context.wiring.inputShape), mode: mode,
                                argmaxCount: argmaxCount(batchCapacity: context.batchCapacity, output: context.wiring.outputShape),
                                pool: context.pool)
    }
}
