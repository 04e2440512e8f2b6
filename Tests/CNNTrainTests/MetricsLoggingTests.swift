import CNNSpec
import CNNKernels
import Foundation
import Testing
@testable import CNNTrain

/// Training rows every `train.log_every` iterations, the report's iteration axis, TensorBoard event files,
/// the run header and the config identity, on a tiny 5-epoch Model A run (45 batches per epoch).
@Suite(.serialized) struct MetricsLoggingTests {
    /// 1,000 images, 10 % held out: 900 training images in batches of 20 = 45 iterations per epoch, so a
    /// 5-epoch run has 225 iterations and the automatic cadence logs every 2 (225 / 100, rounded down).
    static let batchesPerEpoch = 45, epochs = 5

    private func fiveEpochRun(folder: URL, tensorboard: Bool = false, evalEvery: Int? = 15)
        throws -> (trainer: Trainer, config: RunConfig, data: TrainingData) {
        let (train, test, _) = TrainingTestSupport.smallData(train: 1000, test: 200)
        var (config, graph) = try TrainingTestSupport.modelARun(epochs: Self.epochs, batch: 20, folder: folder)
        config.train.evalEveryIterations = evalEvery
        config.output.tensorboard = tensorboard
        let data = try TrainingData(trainFile: train, test: test, config: config.data, seed: config.train.seed)
        let trainer = try Trainer(config: config, graph: graph, data: data, folder: try RunFolder(url: folder),
                                  reporter: TrainingTestSupport.quiet)
        return (trainer, config, data)
    }

    @Test func cadenceAimsAtAHundredPoints() {
        #expect(MetricsCadence.targetPoints == 100)
        #expect(MetricsCadence.interval(logEvery: nil, totalIterations: 3000) == 30)
        #expect(MetricsCadence.interval(logEvery: nil, totalIterations: 225) == 2)
        #expect(MetricsCadence.interval(logEvery: nil, totalIterations: 199) == 1)
        #expect(MetricsCadence.interval(logEvery: nil, totalIterations: 12) == 1)
        #expect(MetricsCadence.interval(logEvery: 7, totalIterations: 225) == 7)
        #expect(MetricsCadence.interval(logEvery: 0, totalIterations: 225) == 2, "0 is not a cadence: automatic")
    }

    /// A 5-epoch run writes a training curve of more than 100 points, each validation evaluation once
    /// (the mid-epoch evaluation at an epoch's last iteration is the end-of-epoch one), rows placed at
    /// their true epoch position; the report draws them against iterations with epochs along the top;
    /// the TensorBoard file holds the same scalars; summary.json has the run header.
    @Test func fiveEpochRunLogsACurveTheReportAndTensorBoardShow() throws {
        let folder = TrainingTestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let (trainer, _, _) = try fiveEpochRun(folder: folder, tensorboard: true)
        _ = try trainer.run()
        let text = try String(contentsOf: folder.appendingPathComponent(RunFolder.metricsFile), encoding: .utf8)
        #expect(text.hasPrefix(MetricsLog.header + "\n"))
        let table = MetricsTable(csv: text)
        let total = Self.epochs * Self.batchesPerEpoch
        let curve = table.trainingCurve
        #expect(curve.allSatisfy { $0.isIntervalRow })
        let expectedIterations: [Int] = Array(stride(from: 2, to: total, by: 2)) + [total]
        #expect(curve.map(\.iteration) == expectedIterations,
                "every 2 iterations, and the last (odd) one closes the run")
        #expect(curve.count >= MetricsCadence.targetPoints)
        #expect(curve.allSatisfy { $0.loss.isFinite && $0.loss >= 0 && (0...1).contains($0.accuracy) })
        let epochEnds: [Int] = (1...Self.epochs).map { $0 * Self.batchesPerEpoch }
        #expect(table.epochRows.map(\.iteration) == epochEnds)
        let validation = table.rows(split: "validation").map(\.iteration)
        var expectedValidation: [Int] = []
        for epoch in 0..<Self.epochs { expectedValidation += [15, 30, 45].map { epoch * Self.batchesPerEpoch + $0 } }
        #expect(validation == expectedValidation,
                "three evaluations per epoch, the epoch's last one written once")
        #expect(Set(validation).count == validation.count)
        // Iteration 100 is 2.22 epochs in (45 batches per epoch), not 100 / (first row's iteration).
        let row100 = try #require(curve.first { $0.iteration == 100 })
        #expect(row100.epoch == 3)
        #expect(abs(table.position(of: row100) - 100.0 / 45) < 1e-5)
        #expect(table.iterationsPerEpoch.map { abs($0 - 45) < 1e-3 } == true)

        // The report: x in iterations, epochs on top, one point per logged row.
        var report = try ReportPageTests.run(name: "five")
        report.metrics = table
        let html = ReportPage(runs: [report]).render()
        let lossChart = try #require(html.components(separatedBy: "<svg").first { $0.contains("aria-label=\"Loss\"") })
        let trainPoints = try #require(lossChart.firstMatch(of: /data-series="train" data-points="(\d+)"/)).1
        #expect(Int(trainPoints) == curve.count)
        #expect(Int(trainPoints)! >= 100)
        #expect(lossChart.contains(">iteration</text>"))
        #expect(lossChart.contains("class=\"secondary-axis\"") && lossChart.contains(">epoch</text>"))

        // TensorBoard: the same training rows as scalars, at their iterations.
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasPrefix(TensorBoardEvents.filePrefix) }
        #expect(names.count == 1)
        let events = try TensorBoardEvents.read(Array(try Data(contentsOf: folder.appendingPathComponent(names[0])))) 
        #expect(events.first?.fileVersion == TensorBoardEvents.fileVersion)
        func steps(_ tag: String) -> [Int64] { events.filter { $0.scalars.contains { $0.tag == tag } }.map(\.step) }
        #expect(steps("train/loss") == curve.map { Int64($0.iteration) })
        #expect(steps("validation/accuracy") == validation.map(Int64.init))
        #expect(steps("test/accuracy").count == 1)
        #expect(steps("learning_rate").count == curve.count)
        let firstLoss = try #require(events.first { $0.step == 2 }?.scalars.first { $0.tag == "train/loss" })
        #expect(abs(Double(firstLoss.value) - curve[0].loss) < 1e-5, "metrics.csv keeps 6 decimals")

        // summary.json: the run header.
        let summary = try String(contentsOf: folder.appendingPathComponent(RunFolder.summaryFile), encoding: .utf8)
        let header = try #require(RunHeader(summaryJSON: summary))
        #expect(header.host == ProcessInfo.processInfo.hostName)
        #expect(header.version == CNNSpecVersion.string)
        #expect(header.threads == 2)
        #expect(header.backends.map(\.layer) == ["cnn1", "cnn2"] && header.backends.allSatisfy { $0.backend == "direct" })
        #expect(header.kernels == KernelTarget.current.description)
        #expect(header.summaryLine.contains("2 threads, kernels \(KernelTarget.current); backends cnn1 direct, cnn2 direct"))
        #expect(ISO8601DateFormatter().date(from: header.date) != nil)
    }

    /// The checkpoint's config_hash is the resolved config's: the config as given and the run folder's
    /// config.yaml (resolved) both match, a changed key does not.
    @Test func configIdentityMatchesTheGivenAndTheResolvedConfig() throws {
        let folder = TrainingTestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let (train, test, _) = TrainingTestSupport.smallData(train: 300, test: 50)
        var (config, graph) = try TrainingTestSupport.modelARun(epochs: 1, batch: 20, folder: folder)
        config.train.length = .iterations(3)
        config.data.trainTransforms = [.scale, .normalize(.auto)]
        config.data.evalTransforms = [.scale, .normalize(.auto)]
        let resolvedData = try TrainingData(trainFile: train, test: test, config: config.data, seed: config.train.seed)
        let trainer = try Trainer(config: config, graph: graph, data: resolvedData, folder: try RunFolder(url: folder),
                                  reporter: TrainingTestSupport.quiet)
        _ = try trainer.run()
        let stored = try #require(try SafetensorsFile.read(from: folder.appendingPathComponent("last.safetensors")).metadata["config_hash"])
        #expect(ConfigIdentity.matches(storedHash: stored, config: config, data: resolvedData))
        let written = folder.appendingPathComponent("config.yaml")
        try ConfigIdentity.resolved(config, data: resolvedData).yamlText.write(to: written, atomically: true, encoding: .utf8)
        let reloaded = try RunConfigLoader.load(path: written.path)
        #expect(reloaded.hash != config.hash, "normalize: auto is resolved to numbers in config.yaml")
        #expect(ConfigIdentity.matches(storedHash: stored, config: reloaded, data: resolvedData))
        var other = config
        other.train.optimizer.learningRate *= 2
        #expect(!ConfigIdentity.matches(storedHash: stored, config: other, data: resolvedData))
    }

    @Test func legacyMetricsFilesAreReadAndUpgradedOnResume() throws {
        let url = TrainingTestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: url) }
        let legacy = MetricsLog.legacyHeader + "\n1,300,train,0.5,0.8,0.01,3.0,900\n1,300,validation,0.4,0.85,0.01,3.2,\n"
        try legacy.write(to: url.appendingPathComponent(RunFolder.metricsFile), atomically: true, encoding: .utf8)
        let old = MetricsTable(csv: legacy)
        #expect(old.trainingCurve.map(\.iteration) == [300], "epoch rows stand in for the curve")
        #expect(old.rows.map(\.scope) == [.epoch, .dataset])
        let log = MetricsLog(folder: try RunFolder(url: url))
        #expect(log.rowCount == 2)
        try log.append(MetricsRow(epoch: 2, iteration: 310, split: "train", loss: 0.3, accuracy: 0.9, learningRate: 0.01,
                                  seconds: 4, imagesPerSecond: 800, scope: .iterations, epochsTrained: 310.0 / 300))
        let table = MetricsTable(csv: try String(contentsOf: url.appendingPathComponent(RunFolder.metricsFile), encoding: .utf8))
        #expect(table.rows.count == 3)
        #expect(table.rows.map(\.scope) == [.epoch, .dataset, .iterations])
        #expect(table.trainingCurve.map(\.iteration) == [310])
    }

    @Test func tensorBoardRecordsAreCRCFramedAndReadBack() throws {
        // The CRC-32C check value (RFC 3720 B.4).
        #expect(TensorBoardEvents.crc32c(Array("123456789".utf8)) == 0xE306_9283)
        let folder = TrainingTestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let writer = try TensorBoardWriter(folder: folder, resumedAt: 40, date: Date(timeIntervalSince1970: 1_700_000_000))
        #expect(writer.url.lastPathComponent.hasPrefix("events.out.tfevents.1700000000."))
        try writer.write(step: 41, scalars: [.init(tag: "train/loss", value: 0.25), .init(tag: "train/accuracy", value: 0.875)])
        try writer.write(MetricsRow(epoch: 1, iteration: 300, split: "validation", loss: 0.5, accuracy: 0.75, learningRate: 0.1, seconds: 1))
        var bytes = Array(try Data(contentsOf: writer.url))
        let events = try TensorBoardEvents.read(bytes)
        #expect(events.count == 4)
        #expect(events[0].fileVersion == "brain.Event:2" && events[0].wallTime == 1_700_000_000)
        #expect(events[1].sessionStatus == 1 && events[1].step == 40, "resume: TensorBoard drops the steps written again")
        #expect(events[2].step == 41 && events[2].scalars == [.init(tag: "train/loss", value: 0.25), .init(tag: "train/accuracy", value: 0.875)])
        #expect(events[3].step == 300 && events[3].scalars.map(\.tag) == ["validation/loss", "validation/accuracy"])
        bytes[bytes.count - 6] ^= 1
        #expect(throws: TensorBoardEvents.ReadError.self) { _ = try TensorBoardEvents.read(bytes) }
        #expect(throws: TensorBoardEvents.ReadError.self) { _ = try TensorBoardEvents.read(Array(bytes.prefix(20))) }
    }

    @Test func gitCommitIsReadFromTheCheckoutAboveTheExecutable() throws {
        let root = TrainingTestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let manager = FileManager.default
        let hash = String(repeating: "ab12", count: 10)
        let build = root.appendingPathComponent("checkout/.build/x86_64-unknown-linux-gnu/release")
        try manager.createDirectory(at: build, withIntermediateDirectories: true)
        try manager.createDirectory(at: root.appendingPathComponent("checkout/.git/refs/heads"), withIntermediateDirectories: true)
        try "ref: refs/heads/main\n".write(to: root.appendingPathComponent("checkout/.git/HEAD"), atomically: true, encoding: .utf8)
        #expect(CNNSpecVersion.commit(above: build) == nil, "a branch without its ref")
        try "# pack-refs\n\(hash) refs/heads/main\n".write(to: root.appendingPathComponent("checkout/.git/packed-refs"), atomically: true, encoding: .utf8)
        #expect(CNNSpecVersion.commit(above: build) == hash)
        let loose = String(repeating: "cd34", count: 10)
        try "\(loose)\n".write(to: root.appendingPathComponent("checkout/.git/refs/heads/main"), atomically: true, encoding: .utf8)
        #expect(CNNSpecVersion.commit(above: build) == loose)
        // A linked worktree: `.git` is a file naming its folder, whose refs live in the main repository.
        let worktree = root.appendingPathComponent("wt"), gitdir = root.appendingPathComponent("checkout/.git/worktrees/wt")
        try manager.createDirectory(at: worktree.appendingPathComponent(".build/release"), withIntermediateDirectories: true)
        try manager.createDirectory(at: gitdir, withIntermediateDirectories: true)
        try "gitdir: \(gitdir.path)\n".write(to: worktree.appendingPathComponent(".git"), atomically: true, encoding: .utf8)
        try "ref: refs/heads/main\n".write(to: gitdir.appendingPathComponent("HEAD"), atomically: true, encoding: .utf8)
        try "../..\n".write(to: gitdir.appendingPathComponent("commondir"), atomically: true, encoding: .utf8)
        #expect(CNNSpecVersion.commit(above: worktree.appendingPathComponent(".build/release")) == loose)
        #expect(CNNSpecVersion.commit(above: URL(fileURLWithPath: "/")) == nil)
    }

    @Test func countedNouns() {
        #expect(English.count(1, "epoch") == "1 epoch")
        #expect(English.count(5, "epoch") == "5 epochs")
        #expect(English.count(1, "batch", "batches") == "1 batch")
        #expect(English.count(0, "thread") == "0 threads")
    }

    /// Twelve runs: the legend takes columns instead of twelve rows under the chart.
    @Test func legendOfManySeriesStaysCompact() {
        let series = (0..<12).map { SVGLineChart.Series(name: "run \($0)", color: "#000", points: [(0, 1), (1, 2)]) }
        var chart = SVGLineChart(title: "t", xLabel: "x", yLabel: "y", series: series)
        chart.width = 600
        #expect(chart.legendColumns(names: series.map(\.name), plotWidth: 530) >= 4)
        let svg = chart.render()
        let heights = svg.firstMatch(of: /height="([\d.]+)"/).map { Double($0.1) ?? 0 } ?? 0
        #expect(heights <= chart.height + 3 * SVGLineChart.legendRowHeight)
    }
}
