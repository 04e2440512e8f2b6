/// Per-channel mean and standard deviation of a dataset's pixels scaled to [0, 1], for `normalize: auto`.
public struct ChannelStatistics: Sendable, Equatable {
    public var mean: [Double]
    /// Unbiased (n − 1) standard deviation, as `torch.Tensor.std()`.
    public var std: [Double]

    /// Statistics over every pixel of `dataset` as stored (pictures of varying size at their stored size; the whole training file, as the Fashion-MNIST tutorial's
    /// `train_data.data.float().mean() / 255` and `.std() / 255`). Exact: built from a 256-bin histogram.
    public init(of dataset: Dataset) {
        var histograms = [[Int]](repeating: [Int](repeating: 0, count: 256), count: dataset.channels)
        dataset.withPixels { pixels in
            for sample in 0..<dataset.count {
                let (offset, size) = dataset.sample(sample)
                let plane = size.plane
                for channel in 0..<dataset.channels {
                    let start = offset + channel * plane
                    histograms[channel].withUnsafeMutableBufferPointer { bins in
                        for index in start..<(start + plane) { bins[Int(pixels[index])] += 1 }
                    }
                }
                dataset.release(sample)
            }
        }
        mean = []; std = []
        for histogram in histograms {
            let count = Double(histogram.reduce(0, +))
            var sum = 0.0
            for (value, occurrences) in histogram.enumerated() { sum += Double(value) * Double(occurrences) }
            let average = sum / max(count, 1)
            var squares = 0.0
            for (value, occurrences) in histogram.enumerated() {
                let deviation = Double(value) - average
                squares += deviation * deviation * Double(occurrences)
            }
            mean.append(average / 255)
            std.append((squares / max(count - 1, 1)).squareRoot() / 255)
        }
    }
}
