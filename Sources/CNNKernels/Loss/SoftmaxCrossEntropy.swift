import Foundation

/// Softmax followed by mean cross-entropy against integer labels (PyTorch `F.cross_entropy`).
public enum SoftmaxCrossEntropy {
    /// Mean cross-entropy over the batch, numerically stable for huge logits (log-sum-exp); writes
    /// gradLogits = (softmax − onehot)/batch when non-nil; also counts argmax == label (ties: first max).
    ///
    /// Labels must lie in `0..<classes` (the caller validates data); a label outside makes the loss NaN.
    public static func forwardBackward(batch: Int, classes: Int, logits: UnsafePointer<Float>, labels: UnsafePointer<Int32>,
                                       gradLogits: UnsafeMutablePointer<Float>?) -> (loss: Float, correct: Int) {
        guard batch > 0, classes > 0 else { return (0, 0) }
        var totalLoss: Double = 0
        var correct = 0
        let scale = 1 / Double(batch)
        for sample in 0..<batch {
            let row = logits + sample * classes
            var maximum = row[0]
            var predicted = 0
            for index in 1..<max(classes, 1) where row[index] > maximum {
                maximum = row[index]
                predicted = index
            }
            var sum: Double = 0
            for index in 0..<classes { sum += Foundation.exp(Double(row[index] - maximum)) }
            let label = Int(labels[sample])
            guard label >= 0 && label < classes else {
                totalLoss = .nan
                if let gradLogits { Elementwise.fill(count: classes, value: .nan, gradLogits + sample * classes) }
                continue
            }
            if predicted == label { correct += 1 }
            totalLoss += Foundation.log(sum) - Double(row[label] - maximum)
            if let gradLogits {
                let gradient = gradLogits + sample * classes
                for index in 0..<classes {
                    let probability = Foundation.exp(Double(row[index] - maximum)) / sum
                    gradient[index] = Float((probability - (index == label ? 1 : 0)) * scale)
                }
            }
        }
        return (Float(totalLoss * scale), correct)
    }

    /// Softmax probabilities per row (for predictions).
    public static func softmax(batch: Int, classes: Int, logits: UnsafePointer<Float>, probabilities: UnsafeMutablePointer<Float>) {
        guard classes > 0 else { return }
        for sample in 0..<batch {
            let row = logits + sample * classes
            let out = probabilities + sample * classes
            var maximum = row[0]
            for index in 1..<classes { maximum = max(maximum, row[index]) }
            var sum: Double = 0
            for index in 0..<classes { sum += Foundation.exp(Double(row[index] - maximum)) }
            for index in 0..<classes { out[index] = Float(Foundation.exp(Double(row[index] - maximum)) / sum) }
        }
    }
}
