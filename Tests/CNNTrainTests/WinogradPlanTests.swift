import CNNKernels
@testable import CNNLayers
import CNNSpec
@testable import CNNTrain
import PyTorchFixtures
import Testing

/// A residual network of 3×3 stride-1 convolutions trained on the Winograd backend follows the same
/// trajectory as on im2col: logits, loss, gradients and weights within 1e-4 over 3 SGD-momentum steps, at a
/// batch that fills one 16-image lane group and spills into a second, with odd planes (partial tiles).
struct WinogradPlanTests {
    static let spec = """
        name: winograd-residual
        input: [3, 9, 7]
        layers:
          - conv: {out: 12, kernel: 3, padding: 1, name: conv1}
          - batchnorm2d: {name: bn1}
          - relu: {name: relu1}
          - conv: {out: 12, kernel: 3, padding: 1, name: conv2}
          - batchnorm2d: {name: bn2}
          - relu: {name: relu2}
          - conv: {out: 12, kernel: 3, padding: 1, name: conv3}
          - batchnorm2d: {name: bn3}
          - add: {from: [bn3, relu1], name: add}
          - relu: {name: relu3}
          - conv: {out: 9, kernel: 3, padding: 0, name: conv4}
          - relu: {name: relu4}
          - flatten
          - linear: {out: 5, name: fc}
        """

    @Test func trainsLikeIm2col() throws {
        let graph = try ModelSpecLoader.load(yaml: Self.spec, catalog: .standard)
        let batch = 19
        let plans = try [ConvolutionBackendKind.winograd, .im2col].map { backend in
            try ExecutionPlan(graph: graph, batchCapacity: batch, backend: .fixed(backend), threads: 2, seed: 5)
        }
        let inputCount = batch * graph.nodes[0].outputShape.elementCount
        var state: UInt32 = 777
        let input = (0..<inputCount).map { _ -> Float in
            state = state &* 1_664_525 &+ 1_013_904_223
            return Float(state >> 8) / Float(1 << 23) - 1
        }
        let labels = (0..<batch).map { Int32($0 % plans[0].classCount) }
        let optimizers = plans.map {
            Optimizer(settings: .sgd(momentum: 0.9, dampening: 0, nesterov: false, weightDecay: 0), parameters: $0.parameters)
        }
        let tolerance: Float = 1e-4
        for step in 0..<3 {
            var losses: [Float] = []
            for plan in plans {
                plan.input.update(from: input, count: inputCount)
                losses.append(labels.withUnsafeBufferPointer { plan.trainStep(batch: batch, labels: $0.baseAddress!).loss })
            }
            let logits = plans.map { Array(UnsafeBufferPointer(start: $0.logits, count: batch * $0.classCount)) }
            #expect(maxRelativeError(logits[0], logits[1], floor: 1e-3) <= tolerance, "step \(step) logits")
            #expect(maxRelativeError([losses[0]], [losses[1]]) <= tolerance, "step \(step) loss")
            let gradients = plans.map {
                Array(UnsafeBufferPointer(start: $0.parameters.gradients.pointer, count: $0.parameters.trainableCount))
            }
            #expect(maxRelativeError(gradients[0], gradients[1], floor: 1e-3) <= tolerance, "step \(step) gradients")
            for (plan, optimizer) in zip(plans, optimizers) {
                optimizer.step(learningRate: 0.05)
                plan.parametersDidChange()
            }
        }
        let weights = plans.map {
            Array(UnsafeBufferPointer(start: $0.parameters.values.pointer, count: $0.parameters.trainableCount))
        }
        #expect(maxRelativeError(weights[0], weights[1], floor: 1e-3) <= tolerance, "weights after 3 steps")
        #expect(plans[0].backendSelections.count == 4 && plans[0].backendSelections.allSatisfy { $0.chosen == .winograd })
    }
}
