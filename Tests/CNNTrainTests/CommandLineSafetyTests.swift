import CNNSpec
import Foundation
import Testing
@testable import CNNTrain

/// The cnnspec binary of the build these tests run from: `swift build --build-tests` (debug or release) puts it
/// beside the test bundle. A missing binary fails the tests; they are never skipped.
private let binary = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
    .deletingLastPathComponent().appendingPathComponent("cnnspec")
private let hasBinary = FileManager.default.isExecutableFile(atPath: binary.path)

/// The command line's safety behaviours, end to end through the real binary on a tiny synthetic dataset:
/// SIGTERM saves and exits 143 and the run resumes; a second run into a locked folder is refused and
/// changes nothing; resuming a finished run touches nothing.
@Suite(.serialized)
struct CommandLineSafetyTests {
    @Test func theBinaryIsBuiltBesideTheTests() {
        #expect(hasBinary, "no cnnspec at \(binary.path): run swift build --build-tests")
    }

    /// A folder with 8×8 IDX files (64 training, 16 test images), a tiny model and a config of `iterations`.
    private func project(iterations: Int) throws -> (folder: URL, config: String) {
        let folder = TrainingTestSupport.temporaryFolder()
        let data = try DataTestFolder()
        defer { data.remove() }
        let root = folder.appendingPathComponent("data")
        try DataTestFolder.writeTinyMNIST(into: root)
        try "input: [1, 8, 8]\nlayers:\n  - conv: {out: 4, kernel: 3, padding: same}\n  - relu\n  - flatten\n  - linear: 10\n"
            .write(to: folder.appendingPathComponent("tiny.yaml"), atomically: true, encoding: .utf8)
        let config = """
            name: tiny
            model: tiny.yaml
            data: {dataset: mnist, root: \(root.path), validation_split: 0}
            train: {batch_size: 8, iterations: \(iterations), threads: 1, backend: direct, checkpoint_every: 50,
                    optimizer: {name: sgd, lr: 0.01}}
            output: {dir: \(folder.appendingPathComponent("run").path)}
            """
        try config.write(to: folder.appendingPathComponent("config.yaml"), atomically: true, encoding: .utf8)
        return (folder, folder.appendingPathComponent("config.yaml").path)
    }

    private func start(_ arguments: [String], output: URL) throws -> Process {
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        FileManager.default.createFile(atPath: output.path, contents: nil)
        let handle = try FileHandle(forWritingTo: output)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        return process
    }

    private func run(_ arguments: [String], in folder: URL) throws -> (status: Int32, output: String) {
        let log = folder.appendingPathComponent("out-\(UUID().uuidString).txt")
        let process = try start(arguments, output: log)
        process.waitUntilExit()
        return (process.terminationStatus, (try? String(contentsOf: log, encoding: .utf8)) ?? "")
    }

    @Test func sigtermSavesAndTheRunResumesToTheEnd() throws {
        let (folder, config) = try project(iterations: 50_000)
        defer { try? FileManager.default.removeItem(at: folder) }
        let run = folder.appendingPathComponent("run")
        let process = try start(["run", config, "--no-report"], output: folder.appendingPathComponent("first.txt"))
        // Wait (at most 60 s) for the first mid-epoch save, then ask the run to stop as Slurm would.
        for _ in 0..<600 where !FileManager.default.fileExists(atPath: run.appendingPathComponent(RunFolder.resumeFile).path) {
            usleep(100_000)
        }
        process.terminate()
        process.waitUntilExit()
        if process.terminationStatus == 0 { Issue.record("the run ended before SIGTERM reached it"); return }
        #expect(process.terminationReason == .exit && process.terminationStatus == 143)
        let summary = try String(contentsOf: run.appendingPathComponent(RunFolder.summaryFile), encoding: .utf8)
        #expect(summary.contains("\"interrupted\": true"))
        let log = try String(contentsOf: run.appendingPathComponent(RunFolder.logFile), encoding: .utf8)
        #expect(log.contains("interrupted: state saved"))
        // A new run into the same folder is refused; --resume continues (shortened so it finishes).
        let again = try self.run(["run", config, "--no-report"], in: folder)
        #expect(again.status == 1 && again.output.contains("already holds a run"))
        // Shortened below the iterations done: it must finish at once, not trap on an empty epoch range.
        let resumed = try self.run(["run", "--resume", run.path, "--no-report", "--set", "train.iterations=1"], in: folder)
        #expect(resumed.status == 0, "\(resumed.output)")
        #expect(resumed.output.contains("resumed at"))
        let finished = try String(contentsOf: run.appendingPathComponent(RunFolder.summaryFile), encoding: .utf8)
        #expect(finished.contains("\"interrupted\": false"))
    }

    @Test func secondRunIntoALockedFolderIsRefusedAndChangesNothing() throws {
        let (folder, config) = try project(iterations: 20)
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("run")
        let holder = try RunFolder(url: url, mode: .fresh)
        try holder.write("first\n", to: RunFolder.configFile)
        let second = try run(["run", config, "--no-report", "--overwrite"], in: folder)
        #expect(second.status == 1)
        #expect(second.output.contains("in use by another cnnspec process (pid \(getpid()))"))
        #expect(try String(contentsOf: holder.file(RunFolder.configFile), encoding: .utf8) == "first\n")
        #expect(!FileManager.default.fileExists(atPath: holder.file(RunFolder.metricsFile).path))
        withExtendedLifetime(holder) {}
    }

    @Test func resumingAFinishedRunTouchesNothing() throws {
        let (folder, config) = try project(iterations: 20)
        defer { try? FileManager.default.removeItem(at: folder) }
        let first = try run(["run", config, "--no-report"], in: folder)
        #expect(first.status == 0, "\(first.output)")
        let url = folder.appendingPathComponent("run")
        let before = try FileManager.default.contentsOfDirectory(atPath: url.path).sorted()
        let metrics = try Data(contentsOf: url.appendingPathComponent(RunFolder.metricsFile))
        let summary = try Data(contentsOf: url.appendingPathComponent(RunFolder.summaryFile))
        let resumed = try run(["run", "--resume", url.path, "--no-report"], in: folder)
        #expect(resumed.status == 0)
        #expect(resumed.output.contains("this run finished earlier"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: url.path).sorted() == before)
        #expect(try Data(contentsOf: url.appendingPathComponent(RunFolder.metricsFile)) == metrics)
        #expect(try Data(contentsOf: url.appendingPathComponent(RunFolder.summaryFile)) == summary)
    }
}
