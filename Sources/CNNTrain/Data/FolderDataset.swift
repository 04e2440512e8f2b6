import CNNSpec
import Foundation

/// An image folder in torchvision's `ImageFolder` layout, decoded once into compact 8-bit samples.
///
/// `root/train/<class>/…`, optionally `root/test/<class>/…` (else `data.test_split` of train/ is held
/// out) and `root/val/<class>/…`. Classes are the sorted folder names of `train/` (as torchvision sorts
/// them), label = position. As ImageFolder, only files with its picture extensions are listed
/// (`ImageFile.folderExtensions`, any case); the others (`Thumbs.db`, `notes.txt`) are counted and
/// reported. Pictures are decoded by their content, whatever their extension says (as PIL does).
/// Every picture is converted to the model's channels (Pillow's grey weights, grey copied to RGB),
/// alpha composited onto white, and stored at the size `PictureSizing` decides: resized to the model's
/// input (Pillow's bilinear filter, what `transforms.Resize((h, w))` does to a PIL image) when the
/// transform lists do not resize or crop, else at its own size for the lists to resize and crop.
public enum FolderDataset {
    /// The picture files of one split, sorted by class then file name.
    public struct Listing: Sendable {
        public var split: String
        public var files: [(path: String, label: Int32, size: Int, modified: Double)]
        /// Files left out because their extension is not a picture's (ImageFolder's rule).
        public var ignored: [String] = []
    }

    /// Decoded splits; `bad` lists every file that could not be used, with its path and the reason.
    public struct Loaded: Sendable {
        public var train: Dataset
        public var validation: Dataset?
        public var test: Dataset
        public var bad: [String]
        /// Non-picture files left out (by extension), over every split.
        public var ignored: [String] = []
    }

    /// Fraction of `train/` held out as the test set when there is no `test/` folder and
    /// `data.test_split` is not given.
    public static let defaultTestSplit = 0.2
    /// Salt of the held-out test split's seed, so it differs from the validation split drawn from the same seed.
    static let testSplitSalt: UInt64 = 0x7E57_5917

    /// At most this many bytes of decoded samples per split (a mistaken root must not exhaust memory).
    public static let maximumSplitBytes = 8 << 30
    /// Files a decoding thread takes at a time: large enough to keep lock traffic negligible, small
    /// enough to balance threads over a few thousand files.
    static let filesPerChunk = 64
    /// The progress line is redrawn every this many chunks (about a thousand images).
    static let chunksPerProgressLine = 16

    /// The class folder names of `root/train`, sorted.
    public static func classNames(root: String) throws(DataError) -> [String] {
        let trainFolder = (root as NSString).appendingPathComponent("train")
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: trainFolder, isDirectory: &isFolder), isFolder.boolValue else {
            throw DataError("\(trainFolder): no such folder; a folder dataset needs \(root)/train/<class>/<images> (and optionally \(root)/test/<class>/<images>)",
                            hint: "see docs/run-config.md (Folder datasets), or make the example: scripts/make-example-folder")
        }
        let names = subfolders(trainFolder)
        guard !names.isEmpty else {
            throw DataError("\(trainFolder): no class folders; put each class's images in \(trainFolder)/<class name>/")
        }
        return names
    }

    private static func subfolders(_ folder: String) -> [String] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        return entries.filter { name in
            var isFolder: ObjCBool = false
            return !name.hasPrefix(".") && FileManager.default.fileExists(atPath: (folder as NSString).appendingPathComponent(name),
                                                                          isDirectory: &isFolder) && isFolder.boolValue
        }.sorted()
    }

    /// Lists `root/<split>` (class folders searched recursively); a class folder unknown to `train/` is an
    /// error, hidden files and folders are ignored.
    public static func list(root: String, split: String, classes: [String]) throws(DataError) -> Listing {
        let folder = (root as NSString).appendingPathComponent(split)
        var listing = Listing(split: split, files: [])
        for name in subfolders(folder) where !classes.contains(name) {
            throw DataError("\(folder)/\(name): class folder '\(name)' is not in \(root)/train (classes: \(classes.joined(separator: ", ")))",
                            hint: "every split must use the training set's class folders")
        }
        for (label, name) in classes.enumerated() {
            let classFolder = (folder as NSString).appendingPathComponent(name)
            // Recursive, as torchvision's make_dataset (os.walk); hidden files and folders are skipped.
            let entries = (FileManager.default.subpaths(atPath: classFolder) ?? [])
                .filter { !$0.split(separator: "/").contains { $0.hasPrefix(".") } }.sorted()
            for entry in entries {
                let path = (classFolder as NSString).appendingPathComponent(entry)
                let attributes = try? FileManager.default.attributesOfItem(atPath: path)
                guard (attributes?[.type] as? FileAttributeType) != .typeDirectory else { continue }
                guard ImageFile.folderExtensions.contains((entry as NSString).pathExtension.lowercased()) else {
                    listing.ignored.append(path)
                    continue
                }
                let size = (attributes?[.size] as? NSNumber)?.intValue ?? 0
                let modified = (attributes?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
                listing.files.append((path, Int32(label), size, modified))
            }
        }
        return listing
    }

    /// Loads train, test (from `root/test`, else `testSplit` of train — `defaultTestSplit` when nil — held
    /// out with `splitSeed`) and (when `root/val` exists) validation, from the cache when it is current.
    /// `sizing` decides the stored picture size (nil: the model's input, `height`×`width`); pictures of
    /// their own size beyond `memoryBudget` bytes (nil: `FolderDataset.memoryBudget`) are memory-mapped.
    /// `report` receives progress lines (`\r`-terminated while decoding) and notes.
    public static func load(root: String, channels: Int, height: Int, width: Int, onBadFile: BadFilePolicy,
                            sizing: PictureSizing? = nil, testSplit: Double? = nil, splitSeed: UInt64 = 0, memoryBudget: Int? = nil,
                            threads: Int = ProcessInfo.processInfo.activeProcessorCount,
                            report: @escaping @Sendable (String) -> Void) throws(DataError) -> Loaded {
        let sizing = sizing ?? .model(height: height, width: width)
        let classes = try classNames(root: root)
        func isFolder(_ name: String) -> Bool {
            var isFolder: ObjCBool = false
            return FileManager.default.fileExists(atPath: (root as NSString).appendingPathComponent(name), isDirectory: &isFolder)
                && isFolder.boolValue
        }
        let hasTest = isFolder("test")
        if hasTest, let testSplit {
            throw DataError("\((root as NSString).appendingPathComponent("test")) exists, and data.test_split (\(testSplit)) would hold out another test set",
                            hint: "remove data.test_split to test on the test/ folder, or move test/ away")
        }
        var splits = hasTest ? ["train", "test"] : ["train"]
        if isFolder("val") { splits.insert("val", at: 1) }
        var bad: [String] = []
        var ignored: [String] = []
        var datasets: [String: Dataset] = [:]
        var pending: [(Listing, ImageCache.Key)] = []
        for split in splits {
            let listing = try list(root: root, split: split, classes: classes)
            ignored += listing.ignored
            guard !listing.files.isEmpty else {
                throw DataError("\((root as NSString).appendingPathComponent(split)): no picture files (expected \(split)/<class>/*.png, *.jpg, …)"
                                    + (listing.ignored.isEmpty ? "" : "; \(listing.ignored.count) other files were ignored, e.g. \(listing.ignored[0])"),
                                hint: "pictures must end in " + ImageFile.folderExtensions.sorted().map { "." + $0 }.joined(separator: ", "))
            }
            // Pictures of their own size are decoded every run (the cache holds fixed-size samples).
            guard !sizing.varies else {
                pending.append((listing, ImageCache.Key(listing: listing, channels: channels, height: 0, width: 0, classes: classes)))
                continue
            }
            let stored = sizing.storedSize(of: CropGeometry.Size(height: height, width: width))
            let key = ImageCache.Key(listing: listing, channels: channels, height: stored.height, width: stored.width, classes: classes)
            if let cached = ImageCache.read(root: root, key: key, report: report) {
                bad += cached.bad
                datasets[split] = cached.dataset
            } else {
                pending.append((listing, key))
            }
        }
        if !ignored.isEmpty {
            let examples = ignored.prefix(3).map { $0.hasPrefix(root + "/") ? String($0.dropFirst(root.count + 1)) : $0 }
                .joined(separator: ", ")
            let what = ignored.count == 1 ? "1 file that is not a picture" : "\(ignored.count) files that are not pictures"
            report("ignored \(what) by extension (\(examples)\(ignored.count > 3 ? ", …" : "")), as torchvision's ImageFolder does\n")
        }
        // Pictures of their own size go into one store shared by the splits (views, no copies), memory-mapped
        // from a file once they exceed the memory budget.
        var builder: PixelStore.Builder?
        if sizing.varies {
            let cacheFolder = (root as NSString).appendingPathComponent(ImageCache.folderName)
            try? FileManager.default.createDirectory(atPath: cacheFolder, withIntermediateDirectories: true)
            builder = PixelStore.Builder(memoryBudget: memoryBudget ?? Self.memoryBudget, folder: cacheFolder,
                                         expectedCount: pending.reduce(0) { $0 + $1.0.files.count })
        }
        var decoded: [String: Decoded] = [:]
        for (listing, _) in pending {
            let result = try decode(listing, classes: classes, channels: channels, sizing: sizing, builder: builder,
                                    threads: threads, report: report)
            decoded[listing.split] = result
            bad += result.bad
        }
        var store: PixelStore?
        if let builder {
            store = try builder.finish()
            if let store, store.isMapped {
                report("pictures: \(store.count >> 20) MiB at their stored size, more than the memory budget of "
                       + "\((memoryBudget ?? Self.memoryBudget) >> 20) MiB: memory-mapped from an unlinked file in \(builder.spillPath.map { ($0 as NSString).deletingLastPathComponent } ?? "?")\n")
            }
        }
        if !bad.isEmpty {
            let list = bad.map { "    " + $0 }.joined(separator: "\n")
            if onBadFile == .error {
                throw DataError("\(bad.count) image file\(bad.count == 1 ? "" : "s") in \(root) cannot be used:\n\(list)",
                                hint: "fix or remove them, or set 'data.on_bad_file: skip' to train without them")
            }
            report("skipping \(bad.count) bad image file\(bad.count == 1 ? "" : "s") (data.on_bad_file: skip):\n\(list)\n")
        }
        for (listing, key) in pending {
            guard let result = decoded[listing.split] else { continue }
            if let pictures = result.pictures, let store {
                datasets[listing.split] = try Dataset(name: "folder \(listing.split)", store: store, offsets: pictures.offsets,
                                                      sizes: pictures.sizes, labels: pictures.labels, channels: channels,
                                                      classNames: classes)
                continue
            }
            guard let dataset = result.dataset else { continue }
            datasets[listing.split] = dataset
            let splitBad = result.bad
            do {
                let url = try ImageCache.write(dataset, bad: splitBad, root: root, key: key)
                report("cached \(listing.split) images in \(url.path)\n")
            } catch {
                report("note: cannot write the image cache (\(error.description)); the next run decodes again\n")
            }
        }
        // invariant: every split was either read from the cache or decoded above
        guard var train = datasets["train"] else { throw DataError("internal: a split was not loaded") }
        let test: Dataset
        if let tested = datasets["test"] {
            test = tested
        } else {
            let fraction = testSplit ?? defaultTestSplit
            let split = DatasetSplit(count: train.count, validationFraction: fraction, seed: splitSeed ^ testSplitSalt)
            guard !split.trainIndices.isEmpty, !split.validationIndices.isEmpty else {
                throw DataError("\(root): \(train.count) pictures in train/ are too few to hold out \(fraction) of them as the test set",
                                hint: "add pictures, set data.test_split, or add a test/<class>/ folder")
            }
            test = try train.subset(split.validationIndices.sorted(), name: "folder test (held out of train)")
            train = try train.subset(split.trainIndices.sorted(), name: "folder train")
            report("no test/ folder: testing on \(test.count) of the \(train.count + test.count) pictures of train/ (data.test_split \(fraction), seeded)\n")
        }
        return Loaded(train: train, validation: datasets["val"], test: test, bad: bad, ignored: ignored)
    }

    /// One decoded split: a fixed-size dataset, or its pictures' places in the shared store; and the bad files.
    struct Decoded {
        var dataset: Dataset?
        var pictures: (offsets: [Int], sizes: [CropGeometry.Size], labels: [Int32])?
        var bad: [String]
    }

    /// Decoded pictures of their own size stay in memory up to this many bytes (a quarter of the
    /// machine's memory, at most `maximumSplitBytes`); beyond it they are memory-mapped from a file.
    public static var memoryBudget: Int { min(maximumSplitBytes, Int(clamping: ProcessInfo.processInfo.physicalMemory / 4)) }

    /// Decodes every file of `listing` on `threads` threads, with a progress line; returns the good
    /// samples (appended to `builder` when pictures keep their own size) and one line per bad file.
    static func decode(_ listing: Listing, classes: [String], channels: Int, sizing: PictureSizing, builder: PixelStore.Builder?,
                       threads: Int, report: @escaping @Sendable (String) -> Void) throws(DataError) -> Decoded {
        let count = listing.files.count
        let fixed: CropGeometry.Size? = sizing.varies ? nil : sizing.storedSize(of: CropGeometry.Size(height: 1, width: 1))
        let sampleSize = fixed.map { channels * $0.plane } ?? 0
        if let fixed {
            let (bytes, overflow) = count.multipliedReportingOverflow(by: sampleSize)
            guard !overflow, bytes <= maximumSplitBytes else {
                throw DataError("\(listing.split): \(count) images of \(channels)×\(fixed.height)×\(fixed.width) need more than \(maximumSplitBytes >> 30) GiB decoded",
                                hint: "use a smaller model input or fewer images")
            }
        }
        let work = DecodeWork(count: count, sampleSize: sampleSize)
        let conversion = SampleConversion(channels: channels, height: fixed?.height ?? 1, width: fixed?.width ?? 1, invert: false)
        let files = listing.files
        let started = Date()
        let chunk = filesPerChunk
        let chunks = (count + chunk - 1) / chunk
        let split = listing.split
        let workers = max(1, min(threads, chunks))
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            var next = worker
            while next < chunks {
                for index in (next * chunk)..<min(count, (next + 1) * chunk) {
                    let path = files[index].path
                    do throws(ImageError) {
                        // By content, as PIL opens a PNG named .jpg; the extension only selected the file.
                        let image = try ImageFile.decode(ImageFile.readBytes(path: path), path: path)
                        if fixed != nil {
                            work.store(conversion.sample(from: image), at: index)
                        } else {
                            let stored = sizing.stored(conversion.planes(of: image), channels: channels,
                                                       size: CropGeometry.Size(height: image.height, width: image.width))
                            // invariant: builder is given whenever sizing varies (load creates it)
                            guard let offset = builder!.append(stored.pixels) else { continue }  // finish() reports the failure
                            work.place(offset: offset, size: stored.size, at: index)
                        }
                    } catch {
                        work.fail(index, error.description)
                    }
                }
                let done = work.finishChunk()
                if done % chunksPerProgressLine == 0 || done == chunks {
                    let images = min(count, done * chunk)
                    let rate = Double(images) / max(Date().timeIntervalSince(started), 1e-6)
                    report("decoding \(split): \(images)/\(count) images, \(Int(rate)) images/s\r")
                }
                next += workers
            }
        }
        let seconds = Date().timeIntervalSince(started)
        report("decoded \(split): \(count) images in \(String(format: "%.1f", seconds)) s (\(Int(Double(count) / max(seconds, 1e-6))) images/s, \(English.count(workers, "thread")))\n")
        let labels = files.map(\.label)
        if let fixed {
            let (pixels, kept, bad) = work.collect(labels: labels)
            let dataset = try Dataset(name: "folder \(split)", images: pixels, labels: kept, channels: channels, height: fixed.height,
                                      width: fixed.width, classNames: classes)
            return Decoded(dataset: dataset, pictures: nil, bad: bad)
        }
        let (offsets, sizes, kept, bad) = work.collectPlaces(labels: labels)
        guard !kept.isEmpty else {
            throw DataError("\(listing.split): none of the \(count) pictures could be decoded:\n" + bad.prefix(10).map { "    " + $0 }.joined(separator: "\n"))
        }
        return Decoded(dataset: nil, pictures: (offsets, sizes, kept), bad: bad)
    }
}

/// Shared state of one threaded decode: samples land in place; failures are recorded by index.
private final class DecodeWork: @unchecked Sendable {
    private let lock = NSLock()
    private var pixels: [UInt8]
    private var failures: [Int: String] = [:]
    private var chunksDone = 0
    private let sampleSize: Int
    /// Where the pictures of their own size went in the shared store, by index.
    private var places: [Int: (offset: Int, size: CropGeometry.Size)] = [:]

    init(count: Int, sampleSize: Int) {
        self.sampleSize = sampleSize
        pixels = [UInt8](repeating: 0, count: count * sampleSize)
    }

    func place(offset: Int, size: CropGeometry.Size, at index: Int) {
        lock.lock(); defer { lock.unlock() }
        places[index] = (offset, size)
    }

    /// The good pictures' offsets and sizes in file order, their labels, and the bad files' messages.
    func collectPlaces(labels: [Int32]) -> ([Int], [CropGeometry.Size], [Int32], [String]) {
        var offsets: [Int] = [], sizes: [CropGeometry.Size] = [], kept: [Int32] = []
        for index in labels.indices {
            guard let place = places[index] else { continue }
            offsets.append(place.offset); sizes.append(place.size); kept.append(labels[index])
        }
        return (offsets, sizes, kept, failures.keys.sorted().compactMap { failures[$0] })
    }

    func store(_ sample: [UInt8], at index: Int) {
        lock.lock(); defer { lock.unlock() }
        pixels.withUnsafeMutableBufferPointer { target in
            sample.withUnsafeBufferPointer { source in
                // invariant: samples are sampleSize bytes (SampleConversion's output shape)
                (target.baseAddress! + index * sampleSize).update(from: source.baseAddress!, count: sampleSize)
            }
        }
    }

    func fail(_ index: Int, _ message: String) {
        lock.lock(); defer { lock.unlock() }
        failures[index] = message
    }

    func finishChunk() -> Int {
        lock.lock(); defer { lock.unlock() }
        chunksDone += 1
        return chunksDone
    }

    /// The good samples in order, their labels, and the bad files' messages in file order.
    func collect(labels: [Int32]) -> ([UInt8], [Int32], [String]) {
        guard !failures.isEmpty else { return (pixels, labels, []) }
        var keptPixels: [UInt8] = []
        var keptLabels: [Int32] = []
        keptPixels.reserveCapacity(pixels.count)
        for index in labels.indices where failures[index] == nil {
            keptPixels += pixels[(index * sampleSize)..<((index + 1) * sampleSize)]
            keptLabels.append(labels[index])
        }
        return (keptPixels, keptLabels, failures.keys.sorted().compactMap { failures[$0] })
    }
}
