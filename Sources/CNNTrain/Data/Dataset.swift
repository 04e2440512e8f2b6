import CNNSpec

/// Labelled 8-bit images held in memory: `images` is [count, channels, height, width] row-major.
public struct Dataset: Sendable {
    public var name: String
    public var images: [UInt8]
    public var labels: [Int32]
    public var channels: Int
    public var height: Int
    public var width: Int
    public var classNames: [String]
    /// The files the images were read from (absolute paths), named by messages about them; empty for
    /// datasets built in memory.
    public var imageFiles: [String]

    public var count: Int { labels.count }
    /// Labels above this are refused as corrupt (no CPU classifier here has more classes).
    public static let maximumClasses = 100_000
    public var sampleSize: Int { channels * height * width }

    /// Checks that `images` holds `labels.count` samples of `channels`×`height`×`width`.
    public init(name: String, images: [UInt8], labels: [Int32], channels: Int, height: Int, width: Int,
                classNames: [String], imageFiles: [String] = []) throws(DataError) {
        guard images.count == labels.count * channels * height * width else {
            throw DataError("\(name): \(images.count) pixel bytes do not make \(labels.count) images of \(channels)×\(height)×\(width)")
        }
        self.name = name; self.images = images; self.labels = labels
        self.channels = channels; self.height = height; self.width = width; self.classNames = classNames
        self.imageFiles = imageFiles
    }

    /// "3×32×32 images", followed by the files they came from when known: for messages.
    var shapeAndSource: String {
        let shape = "\(channels)×\(height)×\(width)"
        return imageFiles.isEmpty ? shape : "\(shape) (\(imageFiles.joined(separator: ", ")))"
    }

    /// Class names for each dataset, in label order.
    public static func classNames(of dataset: DatasetName) -> [String] {
        switch dataset {
        case .mnist: return (0...9).map(String.init)
        case .fashionMNIST:
            return ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
        case .cifar10:
            return ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
        case .folder, .npy:
            return []  // named by the files themselves (class folders, label values)
        }
    }
}

/// A seeded partition of a training set's sample indices into training and validation parts,
/// as `torch.utils.data.random_split` with `int(n × (1 − fraction))` training samples.
public struct DatasetSplit: Sendable, Equatable {
    public var trainIndices: [Int]
    public var validationIndices: [Int]

    /// A fixed partition (e.g. a dataset's own `val/` folder appended after its training samples).
    public init(trainIndices: [Int], validationIndices: [Int]) {
        self.trainIndices = trainIndices; self.validationIndices = validationIndices
    }

    public init(count: Int, validationFraction: Double, seed: UInt64) {
        guard validationFraction > 0 else {
            trainIndices = Array(0..<count); validationIndices = []
            return
        }
        var order = Array(0..<count)
        var random = SplitMix64(seed: seed ^ 0x5EED_5917)
        random.shuffle(&order)
        let trainCount = Int(Double(count) * (1 - validationFraction))
        trainIndices = Array(order[..<trainCount])
        validationIndices = Array(order[trainCount...])
    }
}
