import CNNSpec
import Foundation
import Testing
import CNNLayers
@testable import CNNTrain

/// A tiny ImageFolder tree: 3 classes of 12×12 pictures (class k = a bright bar at a class-specific
/// place), as grey PNG, RGB JPEG and PGM, so every decoder feeds the same dataset.
enum FolderFixture {
    static let classes = ["circle", "square", "triangle"]

    static func picture(label: Int, variant: Int, size: Int = 12) -> RasterImage {
        var pixels = [UInt8](repeating: 10, count: size * size)
        let row = 2 + label * 3 + variant % 2
        for x in 1..<(size - 1) { pixels[row * size + x] = 240; pixels[(row + 1) * size + x] = 240 }
        return RasterImage(width: size, height: size, channels: 1, pixels: pixels)
    }

    /// Writes `perClass` images per class into root/train and 2 per class into root/test; returns root.
    static func make(perClass: Int, val: Bool = false) throws -> URL {
        let root = TrainingTestSupport.temporaryFolder()
        var splits = [("train", perClass), ("test", 2)]
        if val { splits.append(("val", 2)) }
        for (split, count) in splits {
            for (label, name) in classes.enumerated() {
                let folder = root.appendingPathComponent(split).appendingPathComponent(name)
                try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
                for index in 0..<count {
                    let image = picture(label: label, variant: index)
                    switch index % 3 {
                    case 0: try PNGEncoder.encode(image).write(to: folder.appendingPathComponent("\(index).png"))
                    case 1:
                        let rgb = RasterImage(width: image.width, height: image.height, channels: 3, pixels: image.pixels.flatMap { [$0, $0, $0] })
                        try #require(JPEGEncoder.encode(rgb, quality: 95)).write(to: folder.appendingPathComponent("\(index).jpg"))
                    default:
                        try (Data("P5\n\(image.width) \(image.height)\n255\n".utf8) + Data(image.pixels)).write(to: folder.appendingPathComponent("\(index).pgm"))
                    }
                }
            }
        }
        return root
    }

    static let silent: @Sendable (String) -> Void = { _ in }
}

/// Collects report lines (the decoder reports from worker threads).
final class ReportLog: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    var text: String { lock.lock(); defer { lock.unlock() }; return lines.joined() }
    var report: @Sendable (String) -> Void { { line in self.lock.lock(); self.lines.append(line); self.lock.unlock() } }
}

@Suite(.serialized) struct FolderDatasetTests {
    @Test func decodesEveryFormatWithSortedClassesAndCaches() throws {
        let root = try FolderFixture.make(perClass: 6)
        defer { try? FileManager.default.removeItem(at: root) }
        // Hidden files and folders are ignored; a nested folder's pictures count (torchvision walks).
        try Data("x".utf8).write(to: root.appendingPathComponent("train/circle/.DS_Store"))
        try FileManager.default.createDirectory(at: root.appendingPathComponent("test/square/.thumbs"), withIntermediateDirectories: true)
        try Data("x".utf8).write(to: root.appendingPathComponent("test/square/.thumbs/a.png"))
        let nested = root.appendingPathComponent("test/square/more")
        try FileManager.default.createDirectory(at: nested, withIntermediateDirectories: true)
        try PNGEncoder.encode(FolderFixture.picture(label: 1, variant: 1)).write(to: nested.appendingPathComponent("n.png"))
        let first = ReportLog()
        let loaded = try FolderDataset.load(root: root.path, channels: 1, height: 12, width: 12, onBadFile: .error, threads: 2,
                                            report: first.report)
        #expect(loaded.train.count == 18 && loaded.test.count == 7 && loaded.validation == nil)
        #expect(loaded.train.classNames == FolderFixture.classes)
        #expect(loaded.train.labels == [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2])
        // PNG and PGM are exact; the JPEG is within JPEG's error of the picture.
        let expected = FolderFixture.picture(label: 1, variant: 0).pixels
        #expect(Array(loaded.train.images[(6 * 144)..<(7 * 144)]) == expected)
        let jpeg = Array(loaded.train.images[(7 * 144)..<(8 * 144)]), jpegExpected = FolderFixture.picture(label: 1, variant: 1).pixels
        #expect(zip(jpeg, jpegExpected).map { abs(Int($0) - Int($1)) }.max() ?? 255 <= 12)
        #expect(first.text.contains("decoded train: 18 images"))
        #expect(first.text.contains(ImageCache.folderName))

        let second = ReportLog()
        let cached = try FolderDataset.load(root: root.path, channels: 1, height: 12, width: 12, onBadFile: .error, threads: 2,
                                            report: second.report)
        #expect(!second.text.contains("decoded"), "second load reads the cache: \(second.text)")
        #expect(cached.train.images == loaded.train.images && cached.train.labels == loaded.train.labels)
        #expect(cached.test.images == loaded.test.images)
    }

    @Test func corruptCacheIsDetectedAndRebuilt() throws {
        let root = try FolderFixture.make(perClass: 3)
        defer { try? FileManager.default.removeItem(at: root) }
        let original = try FolderDataset.load(root: root.path, channels: 1, height: 12, width: 12, onBadFile: .error, report: FolderFixture.silent)
        let cacheFolder = root.appendingPathComponent(ImageCache.folderName)
        let files = try FileManager.default.contentsOfDirectory(atPath: cacheFolder.path).filter { $0.hasPrefix("train-") }
        let cacheFile = cacheFolder.appendingPathComponent(try #require(files.first))
        var bytes = try Data(contentsOf: cacheFile)
        bytes[bytes.count - 100] ^= 0x55
        try bytes.write(to: cacheFile)
        let log = ReportLog()
        let rebuilt = try FolderDataset.load(root: root.path, channels: 1, height: 12, width: 12, onBadFile: .error, report: log.report)
        #expect(log.text.contains("is corrupt"))
        #expect(log.text.contains("decoded train"))
        #expect(rebuilt.train.images == original.train.images)
        try Data(bytes.prefix(30)).write(to: cacheFile)  // truncated
        let again = ReportLog()
        _ = try FolderDataset.load(root: root.path, channels: 1, height: 12, width: 12, onBadFile: .error, report: again.report)
        #expect(again.text.contains("is corrupt"))
    }

    @Test func touchingAFileOrChangingTheShapeSelectsANewCache() throws {
        let root = try FolderFixture.make(perClass: 3)
        defer { try? FileManager.default.removeItem(at: root) }
        _ = try FolderDataset.load(root: root.path, channels: 1, height: 12, width: 12, onBadFile: .error, report: FolderFixture.silent)
        let log = ReportLog()
        let rgb = try FolderDataset.load(root: root.path, channels: 3, height: 8, width: 8, onBadFile: .error, report: log.report)
        #expect(log.text.contains("decoded train"))
        #expect(rgb.train.channels == 3 && rgb.train.height == 8)
        let image = root.appendingPathComponent("train/square/0.png")
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSince1970: 1_000_000)], ofItemAtPath: image.path)
        let touched = ReportLog()
        _ = try FolderDataset.load(root: root.path, channels: 1, height: 12, width: 12, onBadFile: .error, report: touched.report)
        #expect(touched.text.contains("decoded train"))
        #expect(!touched.text.contains("decoded test"), "the test split is unchanged")
    }

    @Test func badFilesAreAllListedOrSkipped() throws {
        let root = try FolderFixture.make(perClass: 3)
        defer { try? FileManager.default.removeItem(at: root) }
        let square = root.appendingPathComponent("train/square")
        let jpeg = try Data(contentsOf: square.appendingPathComponent("1.jpg"))
        try jpeg.prefix(jpeg.count / 2).write(to: square.appendingPathComponent("truncated.jpg"))
        try Data().write(to: square.appendingPathComponent("empty.png"))
        try PNGEncoder.encode(FolderFixture.picture(label: 1, variant: 0)).write(to: square.appendingPathComponent("renamed.jpg"))
        try Data("notes".utf8).write(to: root.appendingPathComponent("test/circle/readme.txt"))
        do {
            _ = try FolderDataset.load(root: root.path, channels: 1, height: 12, width: 12, onBadFile: .error, report: FolderFixture.silent)
            Issue.record("bad files must be refused by default")
        } catch {
            let text = error.description
            #expect(text.contains("2 image files"), "\(text)")
            for name in ["truncated.jpg: error: corrupt", "empty.png: error: the file is empty"] {
                #expect(text.contains(name), "\(name) in \(text)")
            }
            // Decoded by content (a PNG named .jpg is a picture) and non-pictures ignored, as ImageFolder does.
            #expect(!text.contains("renamed.jpg") && !text.contains("readme.txt"), "\(text)")
            #expect(text.contains("on_bad_file: skip"))
        }
        let log = ReportLog()
        let loaded = try FolderDataset.load(root: root.path, channels: 1, height: 12, width: 12, onBadFile: .skip, report: log.report)
        #expect(loaded.train.count == 10 && loaded.test.count == 6)
        #expect(log.text.contains("skipping 2 bad image files"))
        #expect(log.text.contains("ignored 1 file that is not a picture by extension (test/circle/readme.txt)"), "\(log.text)")
        let cachedLog = ReportLog()
        _ = try FolderDataset.load(root: root.path, channels: 1, height: 12, width: 12, onBadFile: .skip, report: cachedLog.report)
        #expect(cachedLog.text.contains("skipping 2 bad image files"), "a cached run still lists them")
    }

    @Test func missingLayoutAndUnknownClassAreClearErrors() throws {
        let root = try FolderFixture.make(perClass: 2)
        defer { try? FileManager.default.removeItem(at: root) }
        #expect(throws: DataError.self) {
            try FolderDataset.load(root: root.appendingPathComponent("nope").path, channels: 1, height: 12, width: 12,
                                   onBadFile: .error, report: FolderFixture.silent)
        }
        try FileManager.default.createDirectory(at: root.appendingPathComponent("test/hexagon"), withIntermediateDirectories: true)
        do {
            _ = try FolderDataset.load(root: root.path, channels: 1, height: 12, width: 12, onBadFile: .error, report: FolderFixture.silent)
            Issue.record("unknown test class must be refused")
        } catch {
            #expect(error.description.contains("class folder 'hexagon' is not in"))
        }
    }

    /// End to end: config → folder dataset (with val/) → training → checkpoint with prediction metadata.
    @Test func trainsOnAFolderAndStoresWhatPredictNeeds() throws {
        let root = try FolderFixture.make(perClass: 30, val: true)
        let runFolder = TrainingTestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root); try? FileManager.default.removeItem(at: runFolder) }
        let modelPath = runFolder.appendingPathComponent("tiny.yaml")
        // The fine-tuning tests' 12×12, 3-class model (only its name differs, and nothing reads it).
        try FineTuningTests.base.write(to: modelPath, atomically: true, encoding: .utf8)
        let config = try RunConfigLoader.parse("""
            model: \(modelPath.path)
            data: {dataset: folder, root: \(root.path), train_transforms: [scale, normalize: auto], shuffle: false}
            train: {batch_size: 10, epochs: 4, optimizer: {name: sgd, lr: 0.1, momentum: 0.9}, threads: 1, backend: direct}
            output: {dir: \(runFolder.appendingPathComponent("run").path)}
            """, file: "folder.yaml")
        let graph = try ModelSpecLoader.load(path: modelPath.path, catalog: .standard)
        let data = try TrainingData.load(config.data, seed: 0, modelInput: graph.inputShape.dimensions, report: FolderFixture.silent)
        #expect(data.split.trainIndices.count == 90 && data.split.validationIndices.count == 6, "val/ replaces the seeded split")
        #expect(!data.shuffle)
        let folder = try RunFolder.create(for: config, base: runFolder)
        let trainer = try Trainer(config: config, graph: graph, data: data, folder: folder, reporter: TrainingTestSupport.quiet)
        let summary = try trainer.run()
        #expect((summary.testAccuracy ?? 0) >= 0.8, "accuracy \(summary.testAccuracy ?? 0)")
        let classes = try String(contentsOf: folder.url.appendingPathComponent(PredictionInfo.classNamesFile), encoding: .utf8)
        #expect(classes == "circle\nsquare\ntriangle\n")
        let contents = try SafetensorsFile.read(from: folder.url.appendingPathComponent("last.safetensors"))
        let info = try #require(try PredictionInfo(metadata: contents.metadata, path: "last.safetensors"))
        #expect(info.classNames == FolderFixture.classes && info.sampleShape == [1, 12, 12])
        #expect(info.borderMean < 20, "the pictures' borders are dark (10)")
        guard case .normalize(.fixed)? = info.evalTransforms.last else { Issue.record("normalize resolved: \(info.evalTransforms)"); return }
        // The stored model and transforms alone reproduce the trainer's predictions.
        let plan = try ExecutionPlan(graph: try ModelSpecLoader.load(yaml: info.modelYAML, catalog: .standard), batchCapacity: 6, backend: .fixed(.direct), threads: 1)
        try CheckpointIO.load(into: plan.parameters, from: folder.url.appendingPathComponent("last.safetensors"))
        plan.parametersDidChange()
        let pipeline = try TransformPipeline(steps: info.evalTransforms, channels: 1, height: 12, width: 12)
        let predictor = ImagePredictor(plan: plan, pipeline: pipeline, invert: false)
        let pictures = (0..<3).map { FolderFixture.picture(label: $0, variant: 0) }
        #expect(try predictor.predict(pictures).map { $0.ranked[0].index } == [0, 1, 2])
    }
}

struct ShuffleTests {
    @Test func shuffleFalseReplaysFileOrderEveryEpoch() throws {
        let train = TrainingTestSupport.syntheticDigits(count: 50, seed: 3)
        var config = DataConfig(validationSplit: 0.2)
        let shuffled = try TrainingData(trainFile: train, test: train, config: config, seed: 1).trainLoader(batchSize: 10, seed: 1)
        config.shuffle = false
        let data = try TrainingData(trainFile: train, test: train, config: config, seed: 1)
        let loader = data.trainLoader(batchSize: 10, seed: 1)
        for epoch in [0, 3] {
            loader.startEpoch(epoch); shuffled.startEpoch(epoch)
            #expect(loader.order == data.split.trainIndices)
            #expect(shuffled.order != data.split.trainIndices)
        }
    }
}

struct NPYDatasetTests {
    /// A version-1 .npy file of `descr` and `shape` holding `payload`.
    static func npy(_ descr: String, _ shape: [Int], _ payload: [UInt8], fortran: Bool = false) -> Data {
        let shapeText = "(" + shape.map(String.init).joined(separator: ", ") + (shape.count == 1 ? ",)" : ")")
        var header = "{'descr': '\(descr)', 'fortran_order': \(fortran ? "True" : "False"), 'shape': \(shapeText), }"
        while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        var data = Data([0x93] + Array("NUMPY".utf8) + [1, 0])
        data.append(contentsOf: [UInt8(header.utf8.count & 0xFF), UInt8(header.utf8.count >> 8)])
        data.append(contentsOf: Array(header.utf8))
        data.append(contentsOf: payload)
        return data
    }

    static func bytes<T>(_ values: [T]) -> [UInt8] { values.withUnsafeBytes { Array($0) } }

    @Test func readsUint8ImagesAndFloatChannelsLast() throws {
        let root = TrainingTestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        // train: 2 grey 2×3 images uint8; labels int64
        try Self.npy("|u1", [2, 2, 3], Array(0..<12)).write(to: root.appendingPathComponent("x_train.npy"))
        try Self.npy("<i8", [2], Self.bytes([Int64(1), 0])).write(to: root.appendingPathComponent("y_train.npy"))
        // test: 1 image N×H×W×1 float32 in [0, 1]; labels uint8
        try Self.npy("<f4", [1, 2, 3, 1], Self.bytes([Float](arrayLiteral: 0, 0.5, 1, 0.25, 0.75, 1))).write(to: root.appendingPathComponent("x_test.npy"))
        try Self.npy("|u1", [1], [1]).write(to: root.appendingPathComponent("y_test.npy"))
        let (train, test) = try NPYFile.loadDataset(root: root.path)
        #expect(train.images == Array(0..<12) && train.labels == [1, 0] && train.classNames == ["0", "1"])
        #expect(test.images == [0, 128, 255, 64, 191, 255] && test.channels == 1 && test.height == 2 && test.width == 3)
        let data = try TrainingData.load(DataConfig(dataset: .npy, root: root.path, validationSplit: 0), seed: 0)
        #expect(data.classNames == ["0", "1"] && data.sampleShape == [1, 2, 3] && data.test.count == 1)
    }

    @Test func rgbChannelsLastBecomePlanar() throws {
        let header = try NPYFile.header([UInt8](Self.npy("|u1", [1, 1, 2, 3], Array(0..<6))), path: "x.npy")
        #expect(header.shape == [1, 1, 2, 3] && header.count == 6)
        let root = TrainingTestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        try Self.npy("|u1", [1, 2, 2, 3], Array(0..<12)).write(to: root.appendingPathComponent("x.npy"))
        let dataset = try NPYFile.images(path: root.appendingPathComponent("x.npy").path, labels: [0], labelPath: "y.npy",
                                         classNames: ["0"], split: "train")
        #expect(dataset.channels == 3 && dataset.height == 2 && dataset.width == 2)
        #expect(dataset.images == [0, 3, 6, 9, 1, 4, 7, 10, 2, 5, 8, 11])
    }

    @Test func hostileHeadersAreClearErrors() {
        func message(_ data: Data) -> String {
            do { _ = try NPYFile.header([UInt8](data), path: "evil.npy"); return "no error" } catch { return error.description }
        }
        #expect(message(Self.npy("|u1", [4_000_000_000, 4_000_000_000, 4_000_000_000], [])).contains("more elements than any file"))
        #expect(message(Self.npy("|u1", [10], [1, 2, 3])).contains("needs 10 data bytes but the file has 3"))
        #expect(message(Self.npy(">f4", [1], [0, 0, 0, 0])).contains("big-endian"))
        #expect(message(Self.npy("<c8", [1], [UInt8](repeating: 0, count: 8))).contains("not supported"))
        #expect(message(Self.npy("|u1", [1], [0], fortran: true)).contains("Fortran order"))
        #expect(message(Data("hello world".utf8)).contains("not a .npy file"))
        var huge = Self.npy("|u1", [1], [0])
        huge[8] = 0xFF; huge[9] = 0xFF
        #expect(message(huge).contains("runs past the end"))
        for text in [message(Data("hello world".utf8)), message(huge)] { #expect(text.hasPrefix("error: evil.npy: ")) }
    }

    @Test func labelsOutOfRangeOrMismatchedAreRefused() throws {
        let root = TrainingTestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        try Self.npy("<i4", [2], Self.bytes([Int32(0), -3])).write(to: root.appendingPathComponent("y.npy"))
        #expect(throws: DataError.self) { try NPYFile.labels(path: root.appendingPathComponent("y.npy").path) }
        try Self.npy("|u1", [3, 2, 2], [UInt8](repeating: 0, count: 12)).write(to: root.appendingPathComponent("x.npy"))
        #expect(throws: DataError.self) {
            try NPYFile.images(path: root.appendingPathComponent("x.npy").path, labels: [0, 1], labelPath: "y.npy", classNames: ["0", "1"], split: "train")
        }
    }
}
