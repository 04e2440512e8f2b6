import CNNSpec

/// One node of a compiled plan: forward and backward over preallocated buffers.
///
/// `backward` overwrites the gradients of this layer's parameters and writes the gradient of
/// each input into the target the plan wired for it (skipping inputs that need none).
protocol ExecutableLayer: AnyObject {
    func forward(batch: Int, training: Bool)
    func backward(batch: Int)
    /// Called after the optimizer changed the parameters.
    func parametersDidChange()
}

extension ExecutableLayer {
    func parametersDidChange() {}
}

/// Where a layer's inputs, output and gradients live, as wired by the plan.
struct LayerWiring {
    var inputs: [UnsafeMutablePointer<Float>]
    var inputShapes: [TensorShape]
    var output: UnsafeMutablePointer<Float>
    var outputShape: TensorShape
    /// Gradient with respect to this node's output (filled by its consumers or the loss).
    var outputGradient: UnsafeMutablePointer<Float>
    /// Where to write the gradient with respect to each input; nil when no gradient is needed.
    var inputGradients: [UnsafeMutablePointer<Float>?]

    var input: UnsafeMutablePointer<Float> { inputs[0] }
    var inputShape: TensorShape { inputShapes[0] }
    var inputGradient: UnsafeMutablePointer<Float>? { inputGradients[0] }
}

extension TensorShape {
    /// (channels, height, width), treating a vector as C×1×1.
    var chw: (channels: Int, height: Int, width: Int) {
        switch self {
        case .image(let c, let h, let w): return (c, h, w)
        case .vector(let f): return (f, 1, 1)
        }
    }
}
