import CNNSpec
import Foundation
import Testing
@testable import CNNTrain

/// Run folders: one writer at a time, no silent mixing of runs, no stale temp files, no symlinked log.
struct RunFolderSafetyTests {
    private func withFolder(_ body: (URL) throws -> Void) throws {
        let url = TrainingTestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: url) }
        try body(url)
    }

    @Test func secondWriterIsRefusedAndChangesNothing() throws {
        try withFolder { url in
            let first = try RunFolder(url: url, mode: .fresh)
            try first.write("first\n", to: RunFolder.configFile)
            do {
                _ = try RunFolder(url: url, mode: .overwrite)
                Issue.record("a second writer opened a locked run folder")
            } catch {
                #expect(String(describing: error).contains("in use by another cnnspec process (pid \(getpid()))"))
            }
            #expect(try String(contentsOf: first.file(RunFolder.configFile), encoding: .utf8) == "first\n")
            withExtendedLifetime(first) {}
        }
    }

    @Test func lockOfAGoneWriterIsNotStale() throws {
        try withFolder { url in
            do { _ = try RunFolder(url: url, mode: .fresh) }
            // The lock file remains (with the old pid) but its flock went with the descriptor.
            #expect(FileManager.default.fileExists(atPath: url.appendingPathComponent(RunFolder.lockFile).path))
            _ = try RunFolder(url: url, mode: .continuing)
        }
    }

    @Test func folderHoldingARunNeedsResumeOrOverwrite() throws {
        try withFolder { url in
            try "old\n".write(to: url.appendingPathComponent(RunFolder.metricsFile), atomically: true, encoding: .utf8)
            try "keep\n".write(to: url.appendingPathComponent("notes.txt"), atomically: true, encoding: .utf8)
            #expect(throws: FileWriteError.self) { _ = try RunFolder(url: url, mode: .fresh) }
            #expect(FileManager.default.fileExists(atPath: url.appendingPathComponent(RunFolder.metricsFile).path))
            _ = try RunFolder(url: url, mode: .overwrite)
            #expect(!FileManager.default.fileExists(atPath: url.appendingPathComponent(RunFolder.metricsFile).path))
            #expect(FileManager.default.fileExists(atPath: url.appendingPathComponent("notes.txt").path))
        }
    }

    @Test func staleTemporaryFilesAreRemoved() throws {
        try withFolder { url in
            let stale = url.appendingPathComponent(".resume.safetensors.tmp-12345-678")
            let kept = url.appendingPathComponent(".hidden-notes")
            for file in [stale, kept] { FileManager.default.createFile(atPath: file.path, contents: Data("x".utf8)) }
            _ = try RunFolder(url: url, mode: .continuing)
            #expect(!FileManager.default.fileExists(atPath: stale.path))
            #expect(FileManager.default.fileExists(atPath: kept.path))
            #expect(AtomicFile.isTemporaryName(".metrics.csv.tmp-1-2"))
            #expect(!AtomicFile.isTemporaryName("metrics.csv") && !AtomicFile.isTemporaryName(".x.tmp-1"))
        }
    }

    @Test func symlinkedLogIsRefused() throws {
        try withFolder { url in
            let target = url.appendingPathComponent("elsewhere.txt")
            FileManager.default.createFile(atPath: target.path, contents: Data())
            try FileManager.default.createSymbolicLink(at: url.appendingPathComponent(RunFolder.logFile), withDestinationURL: target)
            do {
                let folder = try RunFolder(url: url, mode: .continuing)
                folder.log("must not reach elsewhere.txt")
                Issue.record("a symlinked train.log was opened")
            } catch {
                #expect(String(describing: error).contains("symbolic link"))
            }
            #expect(try Data(contentsOf: target).isEmpty)
        }
    }

    @Test func sigtermRaisesTheInterruptFlag() {
        InterruptFlag.install()
        kill(getpid(), SIGTERM)
        // Delivered to whichever thread does not block it, perhaps not at once.
        for _ in 0..<200 where !InterruptFlag.isRaised { usleep(5_000) }
        #expect(InterruptFlag.isRaised)
        #expect(InterruptFlag.receivedSignal == SIGTERM)
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
    }
}
