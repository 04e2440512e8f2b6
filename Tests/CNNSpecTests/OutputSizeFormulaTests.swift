import Testing
import CNNLayers
@testable import CNNSpec

@Suite struct OutputSizeFormulaTests {
    @Test func workedExamplesFromTheTutorial() {
        // 002: W=4, K=3, P=0, S=1 → (4 − 3 + 0)/1 + 1 = 2 and W=5, K=3, P=1, S=1 → 5.
        #expect(OutputSizeFormula.outputSize(input: 4, kernel: 3, padding: 0, stride: 1) == 2)
        #expect(OutputSizeFormula.outputSize(input: 5, kernel: 3, padding: 1, stride: 1) == 5)
    }

    @Test func strideFloorsLikePyTorch() {
        #expect(OutputSizeFormula.outputSize(input: 7, kernel: 3, padding: 0, stride: 2) == 3)
        #expect(OutputSizeFormula.outputSize(input: 8, kernel: 3, padding: 0, stride: 2) == 3)   // ⌊5/2⌋ + 1
        #expect(OutputSizeFormula.outputSize(input: 227, kernel: 11, padding: 0, stride: 4) == 55)
        #expect(OutputSizeFormula.outputSize(input: 55, kernel: 3, padding: 0, stride: 2) == 27)
        #expect(OutputSizeFormula.outputSize(input: 224, kernel: 7, padding: 3, stride: 2) == 112)
        #expect(OutputSizeFormula.outputSize(input: 7, kernel: 2, padding: 0, stride: 2) == 3)   // odd size pooled
    }

    @Test func emptyOutputsFloorTowardNegativeInfinity() {
        #expect(OutputSizeFormula.outputSize(input: 4, kernel: 5, padding: 0, stride: 1) == 0)
        // (3 − 5)/2 = −1 exactly; truncating division would wrongly give 0 + 1 = 1.
        #expect(OutputSizeFormula.outputSize(input: 3, kernel: 6, padding: 0, stride: 2) == -1)
        #expect(OutputSizeFormula.outputSize(input: 3, kernel: 5, padding: 0, stride: 4) == 0)
        #expect(OutputSizeFormula.explanation(input: 4, kernel: 5, padding: 0, stride: 1) == "(4 − 5 + 0)/1 + 1 = 0")
    }

    @Test func inferredShapesUseTheFormula() throws {
        let graph = try ModelSpecLoader.load(yaml: SpecTestSupport.model(
            ["conv: {out: 2, kernel: 3, stride: 2}", "maxpool: {kernel: 3, stride: 2, padding: 1}"], input: "[1, 8, 9]"), catalog: .standard)
        #expect(graph.nodes[1].outputShape == .image(channels: 2, height: 3, width: 4))
        #expect(graph.nodes[2].outputShape == .image(channels: 2, height: 2, width: 2))
    }
}
