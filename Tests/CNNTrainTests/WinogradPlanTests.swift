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

    @Test(arguments: KernelTarget.allCases)
    func trainsLikeIm2col(target: KernelTarget) throws {
        let graph = try ModelSpecLoader.load(yaml: Self.spec, catalog: .standard)
        let batch = 19
        let plans = try [ConvolutionBackendKind.winograd, .im2col].map { backend in
            try ExecutionPlan(graph: graph, batchCapacity: batch, backend: .fixed(backend), threads: 2, seed: 5, target: target)
        }
        PlanFusionTests.checkPlansAgree(plans, graph: graph, batch: batch, label: "winograd against im2col, \(target)",
                                        learningRate: 0.05, tolerance: 1e-4)
        #expect(plans[0].backendSelections.count == 4 && plans[0].backendSelections.allSatisfy { $0.chosen == .winograd })
    }
}
