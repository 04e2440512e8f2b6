import CNNKernels
import CNNSpec

/// One node of a compiled plan: forward and backward over preallocated buffers.
///
/// `backward` overwrites the gradients of this layer's parameters and writes the gradient of
/// each input into the target the plan wired for it (skipping inputs that need none).
public protocol ExecutableLayer: AnyObject {
    func forward(batch: Int, training: Bool)
    func backward(batch: Int)
    /// Called after the optimizer changed the parameters.
    func parametersDidChange()
}

extension ExecutableLayer {
    public func parametersDidChange() {}
}

/// A layer that draws random numbers while training (dropout): its generator state is part of a
/// run's resume state, so a resumed run draws exactly what an uninterrupted one would.
public protocol RandomizedLayer: ExecutableLayer {
    var randomState: [UInt64] { get }
    /// Continues from a saved `randomState`; false when it is not a valid state.
    func restoreRandomState(_ state: [UInt64]) -> Bool
}

/// A graph operation the executor can run: every kind's operation conforms, beside its definition.
/// It refines `ExportableOperation` so that a kind without its ONNX/PyTorch mapping does not compile.
public protocol ExecutableOperation: LayerOperation, ExportableOperation {
    /// Builds the layer over the buffers and parameters `context` wired for it, allocating its workspaces.
    func makeLayer(_ context: LayerBuildContext) throws -> any ExecutableLayer
    /// True when backward needs somewhere to write the input gradient even when no earlier layer
    /// wants it (batch norm uses it as scratch).
    var needsInputGradientBuffer: Bool { get }
    /// The bytes `makeLayer` allocates beside the plan's buffers and the parameters (masks, argmax, a
    /// convolution's kernel: an upper bound over the backends it may get), from shapes alone: the memory
    /// estimate made before a plan is built sums them. No default, so a kind that forgets it does not compile;
    /// `LayerMemoryTests` compares every kind's statement with what the allocator saw.
    func memory(_ sizing: LayerSizing) -> MemoryFootprint
    /// What the plan's fusion pass (`PlanFusion`) may do with a ReLU that is the only reader of this layer's
    /// output: the kind's own statement of what its backward reads, so the pass keeps no list of kinds.
    var outputReLUFusion: OutputReLUFusion { get }
    /// True when the layer's inference forward may write its output over its input (an element-wise
    /// kernel reading each element before writing it): an inference plan then gives both one buffer
    /// when nothing reads the input afterwards.
    var runsInPlaceInInference: Bool { get }
}

extension ExecutableOperation {
    public var needsInputGradientBuffer: Bool { false }
    public var runsInPlaceInInference: Bool { false }
}

/// How a ReLU reading only a layer's output may fuse with it (`ExecutableOperation.outputReLUFusion`).
public enum OutputReLUFusion: Sendable, Equatable {
    /// The ReLU runs on its own buffers: the layer's backward reads its output, which the ReLU would overwrite.
    case none
    /// The ReLU runs in place on the output (and its gradient on the output gradient): backward reads the
    /// input and the output gradient, never the output.
    case inPlace
    /// The layer applies the ReLU in its own passes: its layer conforms to `OutputReLUFusing` (the plan
    /// refuses it otherwise). Where the plan cannot use that (a batch norm folded away), as `inPlace`.
    case applied
}

/// What a layer's memory statement (`ExecutableOperation.memory`) knows before the plan exists: the same
/// shapes, batch capacity, threads and requested backend `makeLayer` will get.
public struct LayerSizing: Sendable {
    public var inputShapes: [TensorShape]
    public var outputShape: TensorShape
    public var batchCapacity: Int
    /// The thread pool's threads (`ThreadPool.threadCount(requested:)`): kernels keep scratch per thread.
    public var threads: Int
    public var requestedBackend: BackendRequest

    public init(inputShapes: [TensorShape], outputShape: TensorShape, batchCapacity: Int, threads: Int,
                requestedBackend: BackendRequest) {
        self.inputShapes = inputShapes; self.outputShape = outputShape; self.batchCapacity = batchCapacity
        self.threads = threads; self.requestedBackend = requestedBackend
    }

    public var inputShape: TensorShape { inputShapes[0] }
}

/// Where a layer's inputs, output and gradients live, as wired by the plan.
public struct LayerWiring {
    public var inputs: [UnsafeMutablePointer<Float>]
    public var inputShapes: [TensorShape]
    public var output: UnsafeMutablePointer<Float>
    public var outputShape: TensorShape
    /// Gradient with respect to this node's output (filled by its consumers or the loss).
    public var outputGradient: UnsafeMutablePointer<Float>
    /// Where to write the gradient with respect to each input; nil when no gradient is needed.
    public var inputGradients: [UnsafeMutablePointer<Float>?]

    public init(inputs: [UnsafeMutablePointer<Float>], inputShapes: [TensorShape], output: UnsafeMutablePointer<Float>,
                outputShape: TensorShape, outputGradient: UnsafeMutablePointer<Float>, inputGradients: [UnsafeMutablePointer<Float>?]) {
        self.inputs = inputs; self.inputShapes = inputShapes; self.output = output; self.outputShape = outputShape
        self.outputGradient = outputGradient; self.inputGradients = inputGradients
    }

    public var input: UnsafeMutablePointer<Float> { inputs[0] }
    public var inputShape: TensorShape { inputShapes[0] }
    public var inputGradient: UnsafeMutablePointer<Float>? { inputGradients[0] }
}

/// What an operation needs to build its layer: the wiring, its parameters, the shared pool and GEMM,
/// and the plan's convolution backend settings.
public final class LayerBuildContext {
    /// The node's name (prefix of its parameters).
    public let name: String
    /// The node's index in the graph (seeds per-layer random streams).
    public let index: Int
    public let wiring: LayerWiring
    public let batchCapacity: Int
    public let pool: ThreadPool
    public let gemm: GEMM
    public let seed: UInt64
    let parameters: ParameterStore
    /// The backend the run asks for this layer (per-layer setting, else the global one); a backend
    /// written in the model file wins over it.
    public let requestedBackend: BackendRequest
    /// What a convolution chose, for the log; set by convolution layers.
    public var backendSelection: BackendSelection?
    /// Tensors (by suffix) the layer reads from elsewhere than the parameter store: a convolution with a
    /// batch norm folded into it reads the folded weight and bias (`BatchNormFolding`).
    let tensorOverrides: [String: UnsafeMutablePointer<Float>]

    public init(name: String, index: Int, wiring: LayerWiring, batchCapacity: Int, pool: ThreadPool, gemm: GEMM, seed: UInt64,
                parameters: ParameterStore, requestedBackend: BackendRequest,
                tensorOverrides: [String: UnsafeMutablePointer<Float>] = [:]) {
        self.name = name; self.index = index; self.wiring = wiring; self.batchCapacity = batchCapacity; self.pool = pool
        self.gemm = gemm; self.seed = seed; self.parameters = parameters; self.requestedBackend = requestedBackend
        self.tensorOverrides = tensorOverrides
    }

    /// The tensor `name.suffix` (trainable or buffer).
    public func tensor(_ suffix: String) throws -> UnsafeMutablePointer<Float> {
        guard let pointer = optionalTensor(suffix) else { throw PlanError.missingParameter(name + "." + suffix) }
        return pointer
    }

    /// The tensor `name.suffix` when the layer declared it (an optional bias).
    public func optionalTensor(_ suffix: String) -> UnsafeMutablePointer<Float>? {
        tensorOverrides[suffix] ?? parameters.pointer(name + "." + suffix)
    }

    /// The gradient of trainable tensor `name.suffix`.
    public func gradient(_ suffix: String) throws -> UnsafeMutablePointer<Float> {
        guard let pointer = parameters.gradientPointer(name + "." + suffix) else { throw PlanError.missingParameter(name + "." + suffix) }
        return pointer
    }

    /// The gradient of `name.suffix` when the layer declared it.
    public func optionalGradient(_ suffix: String) -> UnsafeMutablePointer<Float>? { parameters.gradientPointer(name + "." + suffix) }

    /// What this layer's memory statement is made from (the estimate's view of this context).
    public var sizing: LayerSizing {
        LayerSizing(inputShapes: wiring.inputShapes, outputShape: wiring.outputShape, batchCapacity: batchCapacity,
                    threads: pool.threadCount, requestedBackend: requestedBackend)
    }

    /// A seed for this layer's random stream, distinct per node.
    public var layerSeed: UInt64 { seed &+ UInt64(index) &* 0x2545_F491_4F6C_DD1D }
}

extension TensorShape {
    /// (channels, height, width), treating a vector as C×1×1.
    public var chw: (channels: Int, height: Int, width: Int) {
        switch self {
        case .image(let c, let h, let w): return (c, h, w)
        case .vector(let f): return (f, 1, 1)
        }
    }
}
