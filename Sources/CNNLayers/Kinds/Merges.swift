import CNNKernels
import CNNSpec

/// `add` (residual connections), `concat` (Inception/DenseNet branches) and `mul` (a squeeze-and-
/// excitation gate): merges of the layers named by `from:`.
extension LayerDefinition {
    public static let add = LayerDefinition(
        name: "add", summary: "element-wise sum of inputs of one shape (a residual connection)", arity: .merge,
        example: "- add: {from: [shortcut, conv2]}",
        infer: { _, context in
            let shape = context.input.shape
            if context.inputs.contains(where: { $0.shape != shape }) {
                let listed = context.inputs.map { "\($0.name) gives \($0.shape)" }.joined(separator: ", ")
                context.error("add needs inputs of the same shape, but \(listed)",
                              hint: "on a residual shortcut, a 1×1 conv with the same stride and channels (a projection) makes them match")
                return nil
            }
            return InferredLayer(MergeOperation(merge: .add), shape: shape)
        })

    public static let concat = LayerDefinition(
        name: "concat", synonyms: ["cat"], summary: "concatenation of feature maps along channels (torch.cat(dim=1))",
        arity: .merge, example: "- concat: {from: [branch1, branch2, branch3]}",
        infer: { _, context in
            guard case .image(_, let h0, let w0) = context.input.shape else {
                context.error("concat joins feature maps, but \(context.input.name) gives a vector of \(context.input.shape.elementCount) features",
                              hint: "concatenate before flatten")
                return nil
            }
            var channels = 0
            for input in context.inputs {
                guard case .image(let c, let h, let w) = input.shape, h == h0, w == w0 else {
                    let listed = context.inputs.map { "\($0.name) gives \($0.shape)" }.joined(separator: ", ")
                    context.error("concat joins feature maps of the same height and width along channels, but \(listed)",
                                  hint: "give every branch the same padding and stride so their height and width agree")
                    return nil
                }
                channels += c
            }
            guard let shape = context.checkedShape(.image(channels: channels, height: h0, width: w0)) else { return nil }
            return InferredLayer(MergeOperation(merge: .concat), shape: shape)
        })

    public static let mul = LayerDefinition(
        name: "mul", synonyms: ["multiply"],
        summary: "features × a per-channel gate of C×1×1, broadcast over height and width (squeeze-and-excitation)",
        arity: .merge, example: "- mul: {from: [features, gate]}",
        infer: { _, context in
            let features = context.input
            guard context.inputs.count == 2, case .image(let c, _, _) = features.shape,
                  context.inputs[1].shape.elementCount == c, context.inputs[1].shape.chw.channels == c else {
                let listed = context.inputs.map { "\($0.name) gives \($0.shape)" }.joined(separator: ", ")
                context.error("mul multiplies a feature map by a gate of C×1×1 (from: [features, gate]), but \(listed)",
                              hint: "the gate is usually global_avgpool → conv 1×1 (reduce) → relu → conv 1×1 (back to C) → sigmoid")
                return nil
            }
            return InferredLayer(MergeOperation(merge: .mul), shape: features.shape)
        })
}

/// `add`, `concat` or `mul` over the inputs in `from:` order.
public struct MergeOperation: ExecutableOperation, Equatable {
    public enum Merge: String, Sendable { case add, concat, mul }
    public var merge: Merge

    public var kindName: String { merge.rawValue }

    /// The layer works on the plan's buffers and its parameters only.
    public func memory(_ sizing: LayerSizing) -> MemoryFootprint { .zero }

    /// add's backward passes the gradient on and can mask it itself; concat and mul read nothing of their
    /// output either, but no fused form exists for them.
    public var outputReLUFusion: OutputReLUFusion {
        switch merge {
        case .add: return .applied
        case .concat, .mul: return .none
        }
    }

    public func makeLayer(_ context: LayerBuildContext) throws -> any ExecutableLayer {
        switch merge {
        case .add: return AddLayer(wiring: context.wiring, pool: context.pool)
        case .concat: return ConcatLayer(wiring: context.wiring)
        case .mul: return ChannelMultiplyLayer(wiring: context.wiring, pool: context.pool)
        }
    }
}

/// Element-wise sum of its inputs; the gradient goes to every input unchanged (masked first when a
/// ReLU is fused in). An input whose gradient buffer is the output gradient (shared by the memory plan)
/// costs no copy.
final class AddLayer: OutputReLUFusing {
    private let wiring: LayerWiring
    private let pool: ThreadPool
    /// A ReLU fused in (`ResidualAdd`): forward writes max(sum, 0), backward masks by that output.
    private var appliesReLU = false

    init(wiring: LayerWiring, pool: ThreadPool) { self.wiring = wiring; self.pool = pool }

    func fuseOutputReLU() { appliesReLU = true }

    func forward(batch: Int, training: Bool) {
        let count = batch * wiring.outputShape.elementCount
        let inputs = wiring.inputs
        ResidualAdd.forward(count: count, inputs[0], inputs[1], into: wiring.output, relu: appliesReLU && inputs.count == 2, pool: pool)
        for position in 2..<max(2, inputs.count) {
            // The ReLU goes with the last sum.
            let relu = appliesReLU && position == inputs.count - 1
            ResidualAdd.forward(count: count, wiring.output, inputs[position], into: wiring.output, relu: relu, pool: pool)
        }
    }

    func backward(batch: Int) {
        let count = batch * wiring.outputShape.elementCount
        let targets = wiring.inputGradients
        ResidualAdd.backward(count: count, output: wiring.output, gradOutput: wiring.outputGradient, relu: appliesReLU,
                             targets: targets[0], targets.count > 1 ? targets[1] : nil, pool: pool)
        // More inputs: the output gradient is masked in place by now.
        var position = 2
        while position < targets.count {
            ResidualAdd.backward(count: count, output: wiring.output, gradOutput: wiring.outputGradient, relu: false,
                                 targets: targets[position], position + 1 < targets.count ? targets[position + 1] : nil, pool: pool)
            position += 2
        }
    }
}

/// Concatenation of its inputs along channels.
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

/// features[n, c, :, :] × gate[n, c]; gradients for both.
final class ChannelMultiplyLayer: ExecutableLayer {
    private let wiring: LayerWiring
    private let pool: ThreadPool

    init(wiring: LayerWiring, pool: ThreadPool) { self.wiring = wiring; self.pool = pool }

    func forward(batch: Int, training: Bool) {
        let (channels, height, width) = wiring.outputShape.chw
        ChannelwiseMultiply.forward(batch: batch, channels: channels, spatial: height * width, input: wiring.inputs[0],
                                    gate: wiring.inputs[1], output: wiring.output, pool: pool)
    }

    func backward(batch: Int) {
        let (channels, height, width) = wiring.outputShape.chw
        ChannelwiseMultiply.backward(batch: batch, channels: channels, spatial: height * width, input: wiring.inputs[0],
                                     gate: wiring.inputs[1], gradOutput: wiring.outputGradient, gradInput: wiring.inputGradients[0],
                                     gradGate: wiring.inputGradients[1], pool: pool)
    }
}

// MARK: - Export

extension MergeOperation {
    /// `Add` (`Sum` for three or more), `Concat(axis: 1)`, or `Mul` with a vector gate reshaped to [N, C, 1, 1].
    public func exportONNX(_ node: ExportNode, to builder: any ONNXGraphBuilder) throws {
        switch merge {
        case .add:
            builder.addNode(node.inputs.count == 2 ? "Add" : "Sum", inputs: node.inputs, outputs: [node.output], attributes: [:])
        case .concat:
            builder.addNode("Concat", inputs: node.inputs, outputs: [node.output], attributes: ["axis": .int(1)])
        case .mul:
            var gate = node.inputs[1]
            if !node.inputShapes[1].isImage {
                let channels = node.inputShapes[1].elementCount
                gate = builder.apply("Reshape", [gate, builder.int64Constant([0, channels, 1, 1], stem: node.name + "_gate_shape")],
                                     stem: node.name + "_gate")
            }
            builder.addNode("Mul", inputs: [node.inputs[0], gate], outputs: [node.output], attributes: [:])
        }
    }

    /// No module: `a + b`, `torch.cat([a, b], 1)`, `features * gate`.
    public func exportPyTorch(_ node: ExportNode) throws -> PyTorchLayer {
        switch merge {
        case .add:
            return PyTorchLayer(module: nil, forward: node.inputs.joined(separator: " + "))
        case .concat:
            return PyTorchLayer(module: nil, forward: "torch.cat([\(node.inputs.joined(separator: ", "))], 1)")
        case .mul:
            let gate = node.inputShapes[1].isImage
                ? node.inputs[1] : "\(node.inputs[1]).view(-1, \(node.inputShapes[1].elementCount), 1, 1)"
            return PyTorchLayer(module: nil, forward: "\(node.inputs[0]) * \(gate)")
        }
    }
}
