import CNNKernels
import CNNSpec
import Foundation
import Testing
@testable import CNNTrain

@Suite(.serialized) struct TrainerTests {
    private func trainer(epochs: Int = 2, folder: URL, resume: Bool = false) throws -> Trainer {
        let (train, test, _) = TrainingTestSupport.smallData()
        let (config, graph) = try TrainingTestSupport.modelARun(epochs: epochs, folder: folder)
        let data = try TrainingData(trainFile: train, test: test, config: config.data, seed: config.train.seed)
        return try Trainer(config: config, graph: graph, data: data, folder: try RunFolder(url: folder),
                           reporter: TrainingTestSupport.quiet, resume: resume)
    }

    private func metricColumns(_ folder: URL) throws -> [String] {
        let text = try String(contentsOf: folder.appendingPathComponent(RunFolder.metricsFile), encoding: .utf8)
        // epoch, iteration, split, loss, accuracy, learning rate — not the wall-clock columns.
        return text.split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).prefix(6).joined(separator: ",") }
    }

    @Test func shortRunLearns() throws {
        let folder = TrainingTestSupport.temporaryFolder()
        let summary = try trainer(folder: folder).run()
        let rows = try metricColumns(folder).filter { $0.contains(",train,") }
        let losses = rows.compactMap { Double($0.split(separator: ",")[3]) }
        #expect(losses.count == 2)
        #expect(losses[1] < losses[0])
        #expect((summary.testAccuracy ?? 0) > 0.8, "test accuracy \(summary.testAccuracy ?? 0) on 2,000 images")
        #expect(summary.testWeights == "best validation epoch \(summary.bestEpoch ?? 0)")
        for file in ["last.safetensors", "best.safetensors", RunFolder.metricsFile, RunFolder.summaryFile, RunFolder.resumeFile] {
            #expect(FileManager.default.fileExists(atPath: folder.appendingPathComponent(file).path), "\(file) missing")
        }
    }

    @Test func rerunWithTheSameSeedIsBitIdentical() throws {
        let first = TrainingTestSupport.temporaryFolder(), second = TrainingTestSupport.temporaryFolder()
        _ = try trainer(epochs: 1, folder: first).run()
        _ = try trainer(epochs: 1, folder: second).run()
        #expect(try metricColumns(first) == (try metricColumns(second)))
        let a = try SafetensorsFile.read(from: first.appendingPathComponent("last.safetensors"))
        let b = try SafetensorsFile.read(from: second.appendingPathComponent("last.safetensors"))
        #expect(a.tensors == b.tensors)
    }

    @Test func interruptedAndResumedRunEndsWhereAStraightRunEnds() throws {
        let straight = TrainingTestSupport.temporaryFolder(), interrupted = TrainingTestSupport.temporaryFolder()
        _ = try trainer(folder: straight).run()
        var calls = 0
        let stopped = try trainer(folder: interrupted).run(shouldStop: { calls += 1; return calls == 50 })
        #expect(stopped.interrupted)
        #expect(stopped.iterations == 50)
        let resumed = try trainer(folder: interrupted, resume: true)
        #expect(resumed.progress.iteration == 50)
        let summary = try resumed.run()
        #expect(!summary.interrupted)
        let a = try SafetensorsFile.read(from: straight.appendingPathComponent("last.safetensors"))
        let b = try SafetensorsFile.read(from: interrupted.appendingPathComponent("last.safetensors"))
        #expect(a.tensors == b.tensors)
    }
}
