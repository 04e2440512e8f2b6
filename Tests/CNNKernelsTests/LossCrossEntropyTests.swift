import Foundation
import Testing
import CNNKernels
import PyTorchFixtures

@Suite struct LossCrossEntropyTests {
    static func run(logits: [Float], labels: [Int32], classes: Int) -> (loss: Float, correct: Int, grad: [Float]) {
        let x = OpsBuffer(logits), y = OpsBuffer(labels), grad = OpsBuffer(repeating: Float.nan, count: logits.count)
        let result = SoftmaxCrossEntropy.forwardBackward(batch: labels.count, classes: classes, logits: x.readOnly,
                                                         labels: y.readOnly, gradLogits: grad.pointer)
        return (result.loss, result.correct, grad.array)
    }

    @Test(arguments: ["cross_entropy_mean", "cross_entropy_extreme_logits"])
    func matchesPyTorch(name: String) throws {
        let fixture = try PyTorchFixture.load(name)
        let logits = try fixture.tensor("logits")
        let labels = try fixture.tensor("labels").data.map { Int32($0) }
        let result = Self.run(logits: logits.data, labels: labels, classes: logits.shape[1])
        #expect(maxRelativeError([result.loss], try fixture.tensor("loss").data, floor: 1e-3) <= 1e-5)
        #expect(maxRelativeError(result.grad, try fixture.tensor("grad_logits").data, floor: 1e-3) <= 1e-5)
        var expectedCorrect = 0
        for (row, label) in labels.enumerated() {
            let values = logits.data[(row * logits.shape[1])..<((row + 1) * logits.shape[1])]
            if values.firstIndex(of: values.max()!) == values.startIndex + Int(label) { expectedCorrect += 1 }
        }
        #expect(result.correct == expectedCorrect)
    }

    @Test func accuracyCountsFirstMaximumOnTies() {
        // Row 0 ties classes 1 and 2: the first (1) is the prediction; row 1 predicts 0.
        let result = Self.run(logits: [0, 5, 5, 9, 1, 1], labels: [1, 2], classes: 3)
        #expect(result.correct == 1)
        let second = Self.run(logits: [0, 5, 5], labels: [2], classes: 3)
        #expect(second.correct == 0)
    }

    @Test func gradientMatchesFiniteDifferences() {
        let logits = OpsTestSupport.randomValues(4 * 7, seed: 21, scale: 3)
        let labels: [Int32] = [0, 6, 3, 3]
        let analytic = Self.run(logits: logits, labels: labels, classes: 7).grad
        let numeric = OpsTestSupport.numericalGradient(logits, step: 1e-2) { probe in
            Double(Self.run(logits: probe, labels: labels, classes: 7).loss)
        }
        #expect(maxRelativeError(analytic, numeric, floor: 1e-2) <= 1e-2)
    }

    @Test func softmaxRowsSumToOneAndMatchTheDefinition() {
        let logits: [Float] = [1, 2, 3, 1000, -1000, 0]
        let x = OpsBuffer(logits), p = OpsBuffer(repeating: Float.nan, count: 6)
        SoftmaxCrossEntropy.softmax(batch: 2, classes: 3, logits: x.readOnly, probabilities: p.pointer)
        let sum = Foundation.exp(1.0) + Foundation.exp(2.0) + Foundation.exp(3.0)
        let expected = [Foundation.exp(1.0) / sum, Foundation.exp(2.0) / sum, Foundation.exp(3.0) / sum, 1, 0, 0].map { Float($0) }
        #expect(maxRelativeError(p.array, expected, floor: 1e-6) <= 1e-6)
    }

    @Test func labelOutsideTheClassesGivesNaNLoss() {
        #expect(Self.run(logits: [1, 2, 3], labels: [3], classes: 3).loss.isNaN)
    }
}
