import CNNSpec
import Foundation

/// An image folder in torchvision's `ImageFolder` layout, decoded once into an 8-bit cache.
///
/// `root/train/<class>/*.png|jpg|jpeg|pgm|ppm|bmp`, `root/test/<class>/…` and optionally `root/val/<class>/…`.
/// Classes are the sorted folder names of `train/` (as torchvision sorts them), label = position.
/// Every picture is converted to the model's channels (Pillow's grey weights, grey copied to RGB),
/// alpha composited onto white, and resized to the model's input with Pillow's bilinear filter —
/// what `transforms.Resize((h, w))` does to a PIL image — so the transform lists then run on
/// fixed-size 8-bit samples exactly as for the built-in datasets.
public enum FolderDataset {
    /// The picture files of one split, sorted by class then file name.
    public struct Listing: Sendable {
        public var split: String
        public var files: [(path: String, label: Int32, size: Int, modified: Double)]
    }

    /// Decoded splits; `bad` lists every file that could not be used, with its path and the reason.
    public struct Loaded: Sendable {
        public var train: Dataset
        public var validation: Dataset?
        public var test: Dataset
        public var bad: [String]
    }

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
            throw DataError("\(trainFolder): no such folder; a folder dataset needs \(root)/train/<class>/<images> and \(root)/test/<class>/<images>",
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
                let size = (attributes?[.size] as? NSNumber)?.intValue ?? 0
                let modified = (attributes?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
                listing.files.append((path, Int32(label), size, modified))
            }
        }
        return listing
    }

    /// Loads train, test and (when `root/val` exists) validation, from the cache when it is current.
    /// `report` receives progress lines (`\r`-terminated while decoding) and notes.
    public static func load(root: String, channels: Int, height: Int, width: Int, onBadFile: BadFilePolicy,
                            threads: Int = ProcessInfo.processInfo.activeProcessorCount,
                            report: @escaping @Sendable (String) -> Void) throws(DataError) -> Loaded {
        let classes = try classNames(root: root)
        var splits = ["train", "test"]
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: (root as NSString).appendingPathComponent("val"), isDirectory: &isFolder),
           isFolder.boolValue { splits.insert("val", at: 1) }
        var bad: [String] = []
        var datasets: [String: Dataset] = [:]
        var pending: [(Listing, ImageCache.Key)] = []
        for split in splits {
            let listing = try list(root: root, split: split, classes: classes)
            guard !listing.files.isEmpty else {
                throw DataError("\((root as NSString).appendingPathComponent(split)): no image files (expected \(split)/<class>/*.png, *.jpg, …)")
            }
            let key = ImageCache.Key(listing: listing, channels: channels, height: height, width: width, classes: classes)
            if let cached = ImageCache.read(root: root, key: key, report: report) {
                bad += cached.bad
                datasets[split] = cached.dataset
            } else {
                pending.append((listing, key))
            }
        }
        var decoded: [String: (Dataset, [String])] = [:]
        for (listing, _) in pending {
            decoded[listing.split] = try decode(listing, classes: classes, channels: channels, height: height, width: width,
                                                threads: threads, report: report)
            bad += decoded[listing.split]?.1 ?? []
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
            guard let (dataset, splitBad) = decoded[listing.split] else { continue }
            datasets[listing.split] = dataset
            do {
                let url = try ImageCache.write(dataset, bad: splitBad, root: root, key: key)
                report("cached \(listing.split) images in \(url.path)\n")
            } catch {
                report("note: cannot write the image cache (\(error.description)); the next run decodes again\n")
            }
        }
        // invariant: every split was either read from the cache or decoded above
        guard let train = datasets["train"], let test = datasets["test"] else { throw DataError("internal: a split was not loaded") }
        return Loaded(train: train, validation: datasets["val"], test: test, bad: bad)
    }

    /// Decodes every file of `listing` on `threads` threads, with a progress line; returns the good
    /// samples and one line per bad file.
    static func decode(_ listing: Listing, classes: [String], channels: Int, height: Int, width: Int, threads: Int,
                       report: @escaping @Sendable (String) -> Void) throws(DataError) -> (Dataset, [String]) {
        let sampleSize = channels * height * width
        let count = listing.files.count
        let (bytes, overflow) = count.multipliedReportingOverflow(by: sampleSize)
        guard !overflow, bytes <= maximumSplitBytes else {
            throw DataError("\(listing.split): \(count) images of \(channels)×\(height)×\(width) need more than \(maximumSplitBytes >> 30) GiB decoded",
                            hint: "use a smaller model input or fewer images")
        }
        let work = DecodeWork(count: count, sampleSize: sampleSize)
        let conversion = SampleConversion(channels: channels, height: height, width: width, invert: false)
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
                        let bytes = try ImageFile.readBytes(path: path)
                        let suffix = (path as NSString).pathExtension.lowercased()
                        guard let promised = ImageFile.extensions[suffix] else {
                            throw ImageError(path: path, problem: "unsupported extension '.\(suffix)'; images must be .png, .jpg, .jpeg, .pgm, .ppm or .bmp")
                        }
                        let found = ImageFile.format(of: bytes)
                        if let found, found != promised {
                            throw ImageError(path: path, problem: "named .\(suffix) but holds a \(found.rawValue.uppercased()) image (wrong extension)")
                        }
                        let image = try ImageFile.decode(bytes, path: path)
                        work.store(conversion.sample(from: image), at: index)
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
        let (pixels, labels, bad) = work.collect(labels: files.map(\.label))
        let dataset = try Dataset(name: "folder \(split)", images: pixels, labels: labels, channels: channels, height: height,
                                  width: width, classNames: classes)
        return (dataset, bad)
    }
}

/// Shared state of one threaded decode: samples land in place; failures are recorded by index.
private final class DecodeWork: @unchecked Sendable {
    private let lock = NSLock()
    private var pixels: [UInt8]
    private var failures: [Int: String] = [:]
    private var chunksDone = 0
    private let sampleSize: Int

    init(count: Int, sampleSize: Int) {
        self.sampleSize = sampleSize
        pixels = [UInt8](repeating: 0, count: count * sampleSize)
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
