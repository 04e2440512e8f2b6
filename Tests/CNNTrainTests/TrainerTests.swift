import CNNKernels
import CNNSpec
import Foundation
import Testing
@testable import CNNTrain

@Suite(.serialized) struct TrainerTests {
    private func trainer(epochs: Int = 2, folder: URL, resume: Bool = false, learningRate: Double = 0.05,
                         checkpointEvery: String = "5m", model: String = "modelA.yaml", logEvery: Int? = nil) throws -> Trainer {
        let (train, test, _) = TrainingTestSupport.smallData()
        var (config, graph) = try TrainingTestSupport.modelARun(epochs: epochs, learningRate: learningRate,
                                                                checkpointEvery: checkpointEvery, model: model, folder: folder)
        config.train.logEvery = logEvery
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
        defer { try? FileManager.default.removeItem(at: folder) }
        let summary = try trainer(folder: folder).run()
        let text = try String(contentsOf: folder.appendingPathComponent(RunFolder.metricsFile), encoding: .utf8)
        let losses = MetricsTable(csv: text).epochRows.map(\.loss)
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
        defer { for folder in [first, second] { try? FileManager.default.removeItem(at: folder) } }
        _ = try trainer(epochs: 1, folder: first).run()
        _ = try trainer(epochs: 1, folder: second).run()
        #expect(try metricColumns(first) == (try metricColumns(second)))
        let a = try SafetensorsFile.read(from: first.appendingPathComponent("last.safetensors"))
        let b = try SafetensorsFile.read(from: second.appendingPathComponent("last.safetensors"))
        #expect(a.tensors == b.tensors)
    }

    /// Ctrl-C at iteration 50 and a `kill -9` at iteration 23 of the same run, both resumed, end
    /// bit-identical to a straight run. The kill is simulated by copying the run folder as it is on disk
    /// at that moment (every file is written atomically, so the copy is what a kill would leave): it
    /// loses fewer than `checkpoint_every` iterations, and metrics.csv matches too (the interrupted
    /// epoch's running loss/accuracy sums are part of the resume state).
    /// Model A, and the dropout CNN (whose masks come from a generator saved in the resume state).
    /// Training rows every 7 iterations: both stops fall inside a window, whose sums are resumed too.
    @Test(arguments: ["modelA.yaml", "dropout-cnn.yaml"])
    func interruptedOrKilledAndResumedRunEndsWhereAStraightRunEnds(model: String) throws {
        let straight = TrainingTestSupport.temporaryFolder(), interrupted = TrainingTestSupport.temporaryFolder()
        let killed = TrainingTestSupport.temporaryFolder()
        defer { for folder in [straight, interrupted, killed] { try? FileManager.default.removeItem(at: folder) } }
        let every = 10, killAt = 23
        _ = try trainer(folder: straight, checkpointEvery: "\(every)", model: model, logEvery: 7).run()
        #expect(RunFolder.finishedSummary(at: straight)?.hasPrefix("test accuracy") == true)
        var calls = 0
        let stopped = try trainer(folder: interrupted, checkpointEvery: "\(every)", model: model, logEvery: 7).run(shouldStop: {
            calls += 1
            if calls == killAt {
                try? FileManager.default.removeItem(at: killed)
                try? FileManager.default.copyItem(at: interrupted, to: killed)
            }
            return calls == 50
        })
        #expect(stopped.interrupted)
        #expect(stopped.iterations == 50)
        #expect(RunFolder.finishedSummary(at: interrupted) == nil)
        let resumed = try trainer(folder: interrupted, resume: true, checkpointEvery: "\(every)", model: model, logEvery: 7)
        #expect(resumed.progress.iteration == 50)
        let summary = try resumed.run()
        #expect(!summary.interrupted)
        let revived = try trainer(folder: killed, resume: true, checkpointEvery: "\(every)", model: model, logEvery: 7)
        #expect(revived.progress.iteration == killAt / every * every, "lost \(killAt - revived.progress.iteration) iterations")
        _ = try revived.run()
        let a = try SafetensorsFile.read(from: straight.appendingPathComponent("last.safetensors"))
        for folder in [interrupted, killed] {
            let b = try SafetensorsFile.read(from: folder.appendingPathComponent("last.safetensors"))
            #expect(a.tensors == b.tensors)
            #expect(try metricColumns(straight) == (try metricColumns(folder)))
        }
    }

    /// A learning rate that blows the loss up stops the run with the reason in summary.json and no test row.
    @Test func divergingRunStopsWithTheReason() throws {
        let folder = TrainingTestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect {
            _ = try trainer(folder: folder, learningRate: 1e6).run()
        } throws: { error in
            // It diverges before any save: the message must not claim a resume file that is not there.
            let text = String(describing: error)
            return !FileManager.default.fileExists(atPath: folder.appendingPathComponent(RunFolder.resumeFile).path)
                && text.contains("nothing was saved before it") && !text.contains("resume.safetensors")
        }
        let summary = try String(contentsOf: folder.appendingPathComponent(RunFolder.summaryFile), encoding: .utf8)
        #expect(summary.contains("\"stop_reason\": \"diverged at iteration"))
        #expect(summary.contains("\"test_accuracy\": null"))
        #expect(RunFolder.finishedSummary(at: folder) == nil)
        let metrics = (try? String(contentsOf: folder.appendingPathComponent(RunFolder.metricsFile), encoding: .utf8)) ?? ""
        #expect(!metrics.contains("nan") && !metrics.contains(",test,"))
    }

}
