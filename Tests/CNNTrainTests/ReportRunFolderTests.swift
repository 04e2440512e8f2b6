import CNNSpec
import Foundation
import Testing
@testable import CNNTrain

/// `RunReport.write(runFolder:)` on a real run folder: config.yaml + metrics + checkpoint → report.html.
@Suite(.serialized) struct ReportRunFolderTests {
    static let mnistRoot = TrainingTestSupport.repository.appendingPathComponent("data/mnist").path

    @Test(.enabled(if: (try? DatasetLocator.load(.mnist, root: mnistRoot)) != nil, "needs MNIST: scripts/fetch-data mnist"))
    func writesReportForATrainedRunFolder() throws {
        let root = Self.mnistRoot
        let (train, test) = try DatasetLocator.load(.mnist, root: root)
        let folder = TrainingTestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        var (config, graph) = try TrainingTestSupport.modelARun(epochs: 1, folder: folder)
        config.data.root = root
        let data = try TrainingData(trainFile: TrainingTestSupport.prefix(train, 2000), test: test, config: config.data,
                                    seed: config.train.seed)
        let runFolder = try RunFolder(url: folder)
        try runFolder.write(config.yamlText, to: RunFolder.configFile)
        let summary = try Trainer(config: config, graph: graph, data: data, folder: runFolder, reporter: TrainingTestSupport.quiet).run()
        let url = try RunReport.write(runFolder: folder, threads: 2)
        let html = try String(contentsOf: url, encoding: .utf8)
        #expect(url.lastPathComponent == "report.html")
        #expect(html.contains("<table class=\"confusion\""))
        #expect(html.contains("with best.safetensors weights"))
        #expect(html.contains(String(format: "test accuracy <b class=\"test-accuracy\">%.2f%%</b> on 10000 images", (summary.testAccuracy ?? -1) * 100)),
                "the report's accuracy is the run's test accuracy")
        #expect(html.contains("<pre class=\"shapes\">"))
        #expect(html.contains("data-series=\"validation\""))
        #expect(!html.contains("class=\"note\""))
    }

    @Test func folderWithoutRunFilesIsAClearError() throws {
        let folder = TrainingTestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect(throws: ReportError.self) { try RunReport.write(runFolder: folder) }
    }
}

struct ReportFolderExpansionTests {
    @Test func foldersHoldingRunsExpandToTheRuns() throws {
        let root = TrainingTestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let runs = ["sweep/lr-0.1", "sweep/lr-0.01", "nested/modelA/20260101-000000"].map { root.appendingPathComponent($0) }
        for run in runs {
            try FileManager.default.createDirectory(at: run, withIntermediateDirectories: true)
            try Data("epoch\n".utf8).write(to: run.appendingPathComponent(RunFolder.metricsFile))
        }
        let sweep = root.appendingPathComponent("sweep"), nested = root.appendingPathComponent("nested")
        #expect(RunReport.expand([sweep]).map(\.lastPathComponent) == ["lr-0.01", "lr-0.1"])
        #expect(RunReport.expand([nested]).map(\.path) == [runs[2].path])
        #expect(RunReport.expand([runs[0]]).map(\.path) == [runs[0].path])
        let empty = root.appendingPathComponent("empty")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        #expect(RunReport.expand([empty]).map(\.path) == [empty.path], "left for write(runFolders:) to reject with a clear error")
    }
}
