import CNNSpec
import Foundation
import Testing
import CNNLayers
@testable import CNNTrain

/// Folder datasets as photo users expect them (issue 21 §4): ImageFolder's extension list, decoding by
/// content, an optional test/ folder, and pictures kept at their own size for torchvision-style transforms.
@Suite(.serialized) struct FolderPhotoTests {
    @Test func nonPicturesAreIgnoredAndCountedAndContentDecides() throws {
        let root = try FolderFixture.make(perClass: 3)
        defer { try? FileManager.default.removeItem(at: root) }
        let circle = root.appendingPathComponent("train/circle")
        try Data("thumbs".utf8).write(to: circle.appendingPathComponent("Thumbs.db"))
        try Data("notes".utf8).write(to: circle.appendingPathComponent("notes.txt"))
        try Data("notes".utf8).write(to: root.appendingPathComponent("test/square/README"))
        // A PNG saved as .jpg and an upper-case extension are pictures, as PIL and ImageFolder take them.
        try PNGEncoder.encode(FolderFixture.picture(label: 0, variant: 1)).write(to: circle.appendingPathComponent("renamed.jpg"))
        try PNGEncoder.encode(FolderFixture.picture(label: 0, variant: 0)).write(to: circle.appendingPathComponent("UPPER.PNG"))
        let log = ReportLog()
        let loaded = try FolderDataset.load(root: root.path, channels: 1, height: 12, width: 12, onBadFile: .error, report: log.report)
        #expect(loaded.train.count == 11 && loaded.test.count == 6)
        #expect(loaded.ignored.count == 3)
        #expect(log.text.contains("ignored 3 files that are not pictures by extension"), "\(log.text)")
        // The renamed PNG decodes to its picture exactly (the circle class, sorted: 0.png, 1.jpg, 2.pgm, UPPER.PNG, renamed.jpg).
        let size = loaded.train.sampleSize
        #expect(Array(loaded.train.images[(4 * size)..<(5 * size)]) == FolderFixture.picture(label: 0, variant: 1).pixels)
        // A file with a picture's extension that is no picture is still a bad file, named with its reason.
        try Data("not a picture".utf8).write(to: circle.appendingPathComponent("fake.png"))
        #expect(throws: DataError.self) {
            try FolderDataset.load(root: root.path, channels: 1, height: 12, width: 12, onBadFile: .error, report: FolderFixture.silent)
        }
    }

    @Test func withoutATestFolderAFractionOfTrainIsHeldOut() throws {
        let root = try FolderFixture.make(perClass: 5)
        defer { try? FileManager.default.removeItem(at: root) }
        try FileManager.default.removeItem(at: root.appendingPathComponent("test"))
        let log = ReportLog()
        let loaded = try FolderDataset.load(root: root.path, channels: 1, height: 12, width: 12, onBadFile: .error, splitSeed: 3,
                                            report: log.report)
        #expect(loaded.train.count == 12 && loaded.test.count == 3, "default 0.2 of 15")
        #expect(log.text.contains("no test/ folder: testing on 3 of the 15 pictures"))
        let again = try FolderDataset.load(root: root.path, channels: 1, height: 12, width: 12, onBadFile: .error, splitSeed: 3,
                                           report: FolderFixture.silent)
        #expect(again.test.images == loaded.test.images && again.test.labels == loaded.test.labels, "seeded")
        let wider = try FolderDataset.load(root: root.path, channels: 1, height: 12, width: 12, onBadFile: .error, testSplit: 0.4,
                                           splitSeed: 3, report: FolderFixture.silent)
        #expect(wider.train.count == 9 && wider.test.count == 6)
        // The held-out pictures are not trained on: together they are the folder's pictures once each.
        #expect((wider.train.labels + wider.test.labels).sorted() == [Int32](repeating: 0, count: 5) + [Int32](repeating: 1, count: 5)
                + [Int32](repeating: 2, count: 5))
        try FileManager.default.createDirectory(at: root.appendingPathComponent("test/circle"), withIntermediateDirectories: true)
        try PNGEncoder.encode(FolderFixture.picture(label: 0, variant: 0)).write(to: root.appendingPathComponent("test/circle/a.png"))
        do {
            _ = try FolderDataset.load(root: root.path, channels: 1, height: 12, width: 12, onBadFile: .error, testSplit: 0.3,
                                       report: FolderFixture.silent)
            Issue.record("test/ and test_split together must be refused")
        } catch {
            #expect(error.description.contains("data.test_split"))
        }
    }

    @Test func missingRootNamesTheAbsolutePathTried() throws {
        let config = try RunConfigLoader.parse("model: m.yaml\ndata: {dataset: folder, root: ../no-such-photos}\n",
                                               file: "/tmp/cnnspec-nowhere/configs/c.yaml")
        do {
            _ = try TrainingData.load(config.data, seed: 0, modelInput: [3, 12, 12], report: FolderFixture.silent)
            Issue.record("a missing folder must be refused")
        } catch {
            #expect(error.description.contains("/tmp/cnnspec-nowhere/no-such-photos/train"), "\(error.description)")
        }
    }

    /// Writes grey pictures of several sizes (the class's bar at a class-specific height fraction).
    static func makeMixedSizes(perClass: Int) throws -> URL {
        let root = TrainingTestSupport.temporaryFolder()
        let sizes = [(12, 12), (18, 14), (15, 24), (30, 20)]
        for (label, name) in FolderFixture.classes.enumerated() {
            let folder = root.appendingPathComponent("train").appendingPathComponent(name)
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            for index in 0..<perClass {
                let (height, width) = sizes[index % sizes.count]
                var pixels = [UInt8](repeating: 10, count: height * width)
                let row = (2 + label * 3 + index % 2) * height / 12
                for y in row..<min(height, row + max(2, height / 6)) { for x in 1..<(width - 1) { pixels[y * width + x] = 240 } }
                try PNGEncoder.encode(RasterImage(width: width, height: height, channels: 1, pixels: pixels))
                    .write(to: folder.appendingPathComponent("\(index).png"))
            }
        }
        return root
    }

    @Test func picturesKeepTheirOwnSizeForTorchvisionTransformsAndTrain() throws {
        let root = try Self.makeMixedSizes(perClass: 24)
        let runFolder = TrainingTestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root); try? FileManager.default.removeItem(at: runFolder) }
        let modelPath = runFolder.appendingPathComponent("tiny.yaml")
        try FineTuningTests.base.write(to: modelPath, atomically: true, encoding: .utf8)
        let config = try RunConfigLoader.parse("""
            model: \(modelPath.path)
            data:
              dataset: folder
              root: \(root.path)
              validation_split: 0
              cache_size: 16
              train_transforms: [random_resized_crop: {size: 12, scale: [0.7, 1]}, scale]
              eval_transforms: [resize: 14, center_crop: 12, scale]
            train: {batch_size: 8, epochs: 6, optimizer: {name: adam, lr: 0.01}, threads: 1, backend: direct}
            output: {dir: \(runFolder.appendingPathComponent("run").path)}
            """, file: runFolder.appendingPathComponent("photos.yaml").path)
        let graph = try ModelSpecLoader.load(path: modelPath.path, catalog: .standard)
        let data = try TrainingData.load(config.data, seed: 0, modelInput: graph.inputShape.dimensions, report: FolderFixture.silent)
        let layout = try #require(data.trainFile.layout, "pictures keep their own size")
        // cache_size 16: the 30×20 pictures are stored with a shorter side of 16 (24×16); the others are small enough.
        #expect(Set(layout.sizes) == [CropGeometry.Size(height: 12, width: 12), CropGeometry.Size(height: 18, width: 14),
                                      CropGeometry.Size(height: 15, width: 24), CropGeometry.Size(height: 24, width: 16)])
        #expect(data.sampleShape == [1, 12, 12] && data.test.count > 0)
        let folder = try RunFolder.create(for: config, base: runFolder)
        let trainer = try Trainer(config: config, graph: graph, data: data, folder: folder, reporter: TrainingTestSupport.quiet)
        let summary = try trainer.run()
        #expect((summary.testAccuracy ?? 0) >= 0.6, "accuracy \(summary.testAccuracy ?? 0)")
        // The checkpoint tells predict to keep a picture's own size and run the eval transforms on it.
        let contents = try SafetensorsFile.read(from: folder.url.appendingPathComponent("last.safetensors"))
        let info = try #require(try PredictionInfo(metadata: contents.metadata, path: "last.safetensors"))
        #expect(info.sizing == .own(cacheSide: 16))
        #expect(info.evalTransforms == [.resizeShorter(size: 14), .centerCrop(height: 12, width: 12), .scale])
        let plan = try ExecutionPlan(graph: try ModelSpecLoader.load(yaml: info.modelYAML, catalog: .standard), batchCapacity: 4,
                                     backend: .fixed(.direct), threads: 1)
        try CheckpointIO.load(into: plan.parameters, from: folder.url.appendingPathComponent("last.safetensors"))
        plan.parametersDidChange()
        let pipeline = try TransformPipeline(steps: info.evalTransforms, channels: 1, height: info.sampleShape[1], width: info.sampleShape[2])
        let predictor = ImagePredictor(plan: plan, pipeline: pipeline, invert: false, sizing: info.sizing)
        // A picture to classify is prepared exactly as the stored training picture was.
        let picture = try ImageFile.read(path: root.appendingPathComponent("train/square/3.png").path)
        let sample = predictor.sample(from: picture)
        #expect(sample.size == CropGeometry.Size(height: 24, width: 16))
        let predictions = try predictor.predict([sample])
        #expect(predictions.count == 1 && predictions[0].ranked.count == 3)
    }

    @Test func picturesBeyondTheMemoryBudgetAreMemoryMappedAndGiveTheSameBatches() throws {
        let root = try Self.makeMixedSizes(perClass: 8)
        defer { try? FileManager.default.removeItem(at: root) }
        let sizing = PictureSizing.own(cacheSide: nil)
        let inMemory = try FolderDataset.load(root: root.path, channels: 1, height: 12, width: 12, onBadFile: .error, sizing: sizing,
                                              splitSeed: 1, report: FolderFixture.silent)
        let log = ReportLog()
        let mapped = try FolderDataset.load(root: root.path, channels: 1, height: 12, width: 12, onBadFile: .error, sizing: sizing,
                                            splitSeed: 1, memoryBudget: 1000, report: log.report)
        #expect(inMemory.train.store?.isMapped == false && mapped.train.store?.isMapped == true)
        #expect(mapped.test.store === mapped.train.store, "the held-out test set is a view of the same store")
        #expect(log.text.contains("memory-mapped from an unlinked file"), "\(log.text)")
        for (memory, file) in [(inMemory.train, mapped.train), (inMemory.test, mapped.test)] {
            #expect(memory.labels == file.labels && memory.count == file.count)
            for index in 0..<memory.count {
                let (memoryOffset, memorySize) = memory.sample(index), (fileOffset, fileSize) = file.sample(index)
                #expect(memorySize == fileSize)
                let bytes = memorySize.plane
                let same = memory.withPixels { a in file.withPixels { b in
                    Array(a[memoryOffset..<(memoryOffset + bytes)]) == Array(b[fileOffset..<(fileOffset + bytes)]) } }
                #expect(same, "picture \(index)")
            }
        }
        let config = DataConfig(dataset: .folder, validationSplit: 0.25,
                                trainTransforms: [.randomResizedCrop(RandomResizedCropSpec(height: 12, width: 12)), .scale, .normalize(.auto)],
                                evalTransforms: [.resizeShorter(size: 12), .centerCrop(height: 12, width: 12), .scale, .normalize(.auto)])
        let memoryData = try TrainingData(trainFile: inMemory.train, test: inMemory.test, config: config, seed: 2)
        let fileData = try TrainingData(trainFile: mapped.train, test: mapped.test, config: config, seed: 2)
        #expect(memoryData.statistics == fileData.statistics)
        for (memoryLoader, fileLoader) in [(memoryData.trainLoader(batchSize: 5, seed: 2), fileData.trainLoader(batchSize: 5, seed: 2)),
                                           (memoryData.testLoader(batchSize: 5, seed: 2), fileData.testLoader(batchSize: 5, seed: 2))] {
            var a = [Float](repeating: 0, count: 5 * 144), b = a
            var labelsA = [Int32](repeating: 0, count: 5), labelsB = labelsA
            for batch in 0..<memoryLoader.batchCount {
                memoryLoader.fill(batch: batch, images: &a, labels: &labelsA)
                fileLoader.fill(batch: batch, images: &b, labels: &labelsB)
                #expect(a == b && labelsA == labelsB, "batch \(batch)")
            }
        }
        // The spill file was unlinked as soon as it was opened: nothing is left in the folder.
        let cache = root.appendingPathComponent(ImageCache.folderName).path
        let left = (try? FileManager.default.contentsOfDirectory(atPath: cache)) ?? []
        #expect(!left.contains { $0.hasPrefix(".cnnspec-pictures") }, "\(left)")
    }
}
