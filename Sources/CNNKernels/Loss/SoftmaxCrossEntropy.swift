import Foundation

/// Softmax followed by mean cross-entropy against integer labels (PyTorch `F.cross_entropy`,
/// with its `label_smoothing`).
public enum SoftmaxCrossEntropy {
    /// Mean cross-entropy over the batch, numerically stable for huge logits (log-sum-exp); writes
    /// gradLogits = (softmax − target)/batch when non-nil; also counts argmax == label (ties: first max).
    ///
    /// With `labelSmoothing` ε the target is (1 − ε)·onehot + ε/K over the K classes, as PyTorch's
    /// `CrossEntropyLoss(label_smoothing=ε)`: loss = (1 − ε)·(−log p_label) + ε/K·Σₖ(−log pₖ).
    /// Labels must lie in `0..<classes` (the caller validates data); a label outside makes the loss NaN.
    /// `meanOver` (default `batch`) is the count the loss and gradient are averaged over: a data-parallel
    /// rank holding a shard of a global batch of n averages over n, so that the ranks' sums are the
    /// single-process mean with the same rounding.
    public static func forwardBackward(batch: Int, classes: Int, logits: UnsafePointer<Float>, labels: UnsafePointer<Int32>,
                                       gradLogits: UnsafeMutablePointer<Float>?,
                                       labelSmoothing: Float = 0, meanOver: Int? = nil) -> (loss: Float, correct: Int) {
        guard batch > 0, classes > 0 else { return (0, 0) }
        let smoothing = Double(labelSmoothing)
        let uniform = smoothing / Double(classes)
        var totalLoss: Double = 0
        var correct = 0
        let scale = 1 / Double(meanOver ?? batch)
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
            let logSum = Foundation.log(sum)
            let labelLoss = logSum - Double(row[label] - maximum)
            if smoothing == 0 {
                totalLoss += labelLoss
            } else {
                // Σₖ −log pₖ = K·log Σ − Σₖ (xₖ − max)
                var shiftedSum: Double = 0
                for index in 0..<classes { shiftedSum += Double(row[index] - maximum) }
                totalLoss += (1 - smoothing) * labelLoss + uniform * (Double(classes) * logSum - shiftedSum)
            }
            if let gradLogits {
                let gradient = gradLogits + sample * classes
                for index in 0..<classes {
                    let probability = Foundation.exp(Double(row[index] - maximum)) / sum
                    let target = (index == label ? 1 - smoothing : 0) + uniform
                    gradient[index] = Float((probability - target) * scale)
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
