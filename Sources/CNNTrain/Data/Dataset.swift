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

    /// Each sample's size when the pictures keep their own size (folder datasets whose transforms
    /// resize or crop, see `FolderDataset`); nil when every sample is `channels`×`height`×`width`.
    /// With a layout, `height` and `width` are the largest of the sizes.
    public var layout: VariableLayout?

    /// Where each sample of a dataset of varying picture sizes lies in `images` (or `store`).
    public struct VariableLayout: Sendable {
        public var sizes: [CropGeometry.Size]
        /// Byte offset of each sample in `images` (or `store`).
        public var offsets: [Int]
    }

    /// The pixels when they are not in `images` (then empty): pictures of their own size, in memory or
    /// memory-mapped (see `PixelStore`); several datasets (splits, subsets) may share one store.
    public var store: PixelStore?

    /// Calls `body` with the pixel bytes that `sample(_:)` offsets index.
    @inline(__always)
    public func withPixels<R>(_ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        if let store { return try body(UnsafeBufferPointer(start: store.pointer, count: store.count)) }
        return try images.withUnsafeBufferPointer(body)
    }

    /// Lets a memory-mapped store drop sample `index`'s pages from memory once they have been read.
    @inline(__always)
    public func release(_ index: Int) {
        guard let store, store.isMapped else { return }
        let (offset, size) = sample(index)
        store.release(offset: offset, length: channels * size.plane)
    }

    /// Pictures of varying size held in `store` at `offsets`.
    init(name: String, store: PixelStore, offsets: [Int], sizes: [CropGeometry.Size], labels: [Int32], channels: Int,
         classNames: [String]) throws(DataError) {
        guard offsets.count == labels.count, sizes.count == labels.count, !labels.isEmpty else {
            throw DataError("\(name): \(offsets.count) offsets and \(sizes.count) sizes for \(labels.count) labels")
        }
        for (offset, size) in zip(offsets, sizes) where offset < 0 || offset + channels * size.plane > store.count {
            throw DataError("internal: \(name): a picture lies outside its store")
        }
        self.name = name; images = []; self.labels = labels; self.channels = channels
        height = sizes.map(\.height).max() ?? 0; width = sizes.map(\.width).max() ?? 0
        self.classNames = classNames; imageFiles = []
        layout = VariableLayout(sizes: sizes, offsets: offsets)
        self.store = store
    }

    public var count: Int { labels.count }

    /// Byte offset and size of sample `index`.
    @inline(__always)
    public func sample(_ index: Int) -> (offset: Int, size: CropGeometry.Size) {
        guard let layout else { return (index * sampleSize, CropGeometry.Size(height: height, width: width)) }
        return (layout.offsets[index], layout.sizes[index])
    }

    /// The distinct sample sizes (one for fixed-size datasets).
    public var inputSizes: [CropGeometry.Size] {
        guard let layout else { return [CropGeometry.Size(height: height, width: width)] }
        return Array(Set(layout.sizes))
    }

    /// Samples of varying size: `images` holds each sample's `channels` planes at its own size, in order.
    public init(name: String, images: [UInt8], labels: [Int32], channels: Int, sizes: [CropGeometry.Size],
                classNames: [String], imageFiles: [String] = []) throws(DataError) {
        guard sizes.count == labels.count, !sizes.isEmpty else {
            throw DataError("\(name): \(sizes.count) picture sizes for \(labels.count) labels")
        }
        var offsets = [0]
        offsets.reserveCapacity(sizes.count + 1)
        for size in sizes { offsets.append(offsets[offsets.count - 1] + channels * size.plane) }
        guard offsets.last == images.count else {
            throw DataError("\(name): \(images.count) pixel bytes do not make the \(labels.count) pictures' sizes")
        }
        self.name = name; self.images = images; self.labels = labels; self.channels = channels
        height = sizes.map(\.height).max() ?? 0; width = sizes.map(\.width).max() ?? 0
        self.classNames = classNames; self.imageFiles = imageFiles
        layout = VariableLayout(sizes: sizes, offsets: offsets)
    }

    /// The samples at `indices`, in that order (a held-out split).
    public func subset(_ indices: [Int], name: String) throws(DataError) -> Dataset {
        if let store, let layout {  // a view: the store is shared, nothing is copied
            return try Dataset(name: name, store: store, offsets: indices.map { layout.offsets[$0] },
                               sizes: indices.map { layout.sizes[$0] }, labels: indices.map { labels[$0] }, channels: channels,
                               classNames: classNames)
        }
        var pixels: [UInt8] = []
        var sizes: [CropGeometry.Size] = []
        for index in indices {
            let (offset, size) = sample(index)
            pixels += images[offset..<(offset + channels * size.plane)]
            sizes.append(size)
        }
        let kept = indices.map { labels[$0] }
        if layout == nil {
            return try Dataset(name: name, images: pixels, labels: kept, channels: channels, height: height, width: width,
                               classNames: classNames, imageFiles: imageFiles)
        }
        return try Dataset(name: name, images: pixels, labels: kept, channels: channels, sizes: sizes, classNames: classNames,
                           imageFiles: imageFiles)
    }

    /// `self`'s samples followed by `other`'s (same channels and classes).
    public func appending(_ other: Dataset, name: String) throws(DataError) -> Dataset {
        if let store, let layout, let otherLayout = other.layout, other.store === store {
            return try Dataset(name: name, store: store, offsets: layout.offsets + otherLayout.offsets,
                               sizes: layout.sizes + otherLayout.sizes, labels: labels + other.labels, channels: channels,
                               classNames: classNames)
        }
        guard store == nil, other.store == nil else {
            throw DataError("internal: \(name): datasets in different picture stores cannot be joined")
        }
        if layout == nil, other.layout == nil {
            return try Dataset(name: name, images: images + other.images, labels: labels + other.labels, channels: channels,
                               height: height, width: width, classNames: classNames)
        }
        let sizes = (0..<count).map { sample($0).size } + (0..<other.count).map { other.sample($0).size }
        return try Dataset(name: name, images: images + other.images, labels: labels + other.labels, channels: channels,
                           sizes: sizes, classNames: classNames)
    }
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
        layout = nil
    }

    /// "3×32×32 images", followed by the files they came from when known: for messages.
    var shapeAndSource: String {
        let shape = layout == nil ? "\(channels)×\(height)×\(width)" : "\(channels)-channel pictures of their own size"
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
