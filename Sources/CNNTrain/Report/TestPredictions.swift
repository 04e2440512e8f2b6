import CNNKernels
import CNNSpec
import Foundation

/// A model's prediction for every test image: predicted class and its softmax probability.
public struct TestPredictions: Sendable {
    public var labels: [Int32]
    public var predicted: [Int32]
    public var confidence: [Float]
    public var classNames: [String]

    public var count: Int { labels.count }
    public var accuracy: Double {
        guard count > 0 else { return 0 }
        return Double(zip(labels, predicted).filter { $0 == $1 }.count) / Double(count)
    }

    /// Runs `plan` (weights already loaded) in inference mode over `loader` (unshuffled), in loader order.
    public static func compute(plan: ExecutionPlan, loader: BatchLoader, classNames: [String]) -> TestPredictions {
        let classes = plan.classCount
        let labels = AlignedBuffer<Int32>(count: plan.batchCapacity)
        let probabilities = AlignedBuffer<Float>(count: plan.batchCapacity * classes)
        var result = TestPredictions(labels: [], predicted: [], confidence: [], classNames: classNames)
        for batch in 0..<loader.batchCount {
            let count = loader.fill(batch: batch, images: plan.input, labels: labels.pointer)
            plan.forward(batch: count, training: false)
            SoftmaxCrossEntropy.softmax(batch: count, classes: classes, logits: plan.logits, probabilities: probabilities.pointer)
            for sample in 0..<count {
                let row = probabilities.pointer + sample * classes
                var best = 0
                for index in 1..<classes where row[index] > row[best] { best = index }
                result.labels.append(labels.pointer[sample])
                result.predicted.append(Int32(best))
                result.confidence.append(row[best])
            }
        }
        return result
    }

    /// `matrix[true][predicted]` counts.
    public var confusionMatrix: [[Int]] {
        let classes = classNames.count
        var matrix = [[Int]](repeating: [Int](repeating: 0, count: classes), count: classes)
        for (label, guess) in zip(labels, predicted) where Int(label) < classes && Int(guess) < classes {
            matrix[Int(label)][Int(guess)] += 1
        }
        return matrix
    }

    /// Indices of wrong predictions, most confident first.
    public var mistakesByConfidence: [Int] {
        (0..<count).filter { labels[$0] != predicted[$0] }.sorted { confidence[$0] > confidence[$1] }
    }
}
