import CNNKernels
import Foundation
import Testing
@testable import CNNLayers
@testable import CNNTrain

/// `backend: auto`'s screening and timings cache, and terminal output cut to width / free of `\r` in logs.
@Suite struct StartupAndTerminalTests {
    static func geometry(size: Int, channels: Int = 16, groups: Int = 1, batch: Int = 8) -> ConvolutionGeometry {
        ConvolutionGeometry(batch: batch, inChannels: channels, inHeight: size, inWidth: size, outChannels: channels,
                            kernelHeight: 3, kernelWidth: 3, strideHeight: 1, strideWidth: 1,
                            paddingTop: 1, paddingBottom: 1, paddingLeft: 1, paddingRight: 1, groups: groups)
    }

    static func temporaryFolder() -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("cnnspec-startup-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    @Test func autoRulesOutToeplitzAtLargeInputsFromItsFLOPs() {
        let pool = ThreadPool(threadCount: 1)
        // 24×24, 2 channels: the Toeplitz matrix fits in memory (1152 × 1152), its product does not pay.
        let chooser = ConvolutionBackendChooser(layer: "c", geometry: Self.geometry(size: 24, channels: 2), gemm: GEMM(pool: pool),
                                                needsDataGradient: true, tuning: nil)
        let (candidates, notes) = chooser.screen()
        #expect(!candidates.contains(.toeplitz))
        #expect(notes[.toeplitz]?.hasPrefix("ruled out: ") == true && notes[.toeplitz]?.contains("the multiply-adds of winograd") == true,
                "\(notes)")
        #expect(notes[.depthwise]?.contains("depthwise convolution backend does not support") == true, "\(notes)")
        // At 64×64×16 the matrix itself is refused, with the reason.
        let large = ConvolutionBackendChooser(layer: "c", geometry: Self.geometry(size: 64), gemm: GEMM(pool: pool),
                                              needsDataGradient: true, tuning: nil)
        #expect(large.screen().notes[.toeplitz]?.contains("matrix") == true)
        #expect(candidates.contains(.direct) && candidates.contains(.im2col) && candidates.contains(.winograd))
        // Toeplitz's product is (H·W)/(KH·KW) times the direct sum: at 4×4 it is within reach and is timed.
        let small = ConvolutionBackendChooser(layer: "c", geometry: Self.geometry(size: 4), gemm: GEMM(pool: pool),
                                              needsDataGradient: true, tuning: nil)
        #expect(small.screen().candidates.contains(.toeplitz))
        // The estimate itself: winograd 16/36 of direct; toeplitz H·W/9 times direct for forward and data gradient.
        let g = Self.geometry(size: 64)
        let direct = ConvolutionBackendKind.direct.estimatedFLOPs(g, needsDataGradient: true)
        #expect(abs(ConvolutionBackendKind.winograd.estimatedFLOPs(g, needsDataGradient: true) / direct - 16.0 / 36) < 1e-12)
        #expect(ConvolutionBackendKind.toeplitz.estimatedFLOPs(g, needsDataGradient: true) > 100 * direct)
    }

    @Test func autoTimesOnceThenReadsTheCache() throws {
        let folder = Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("cnnspec/backend-timings.json")
        let lines = LineCollector()
        let tuning = AutoBackendTuning(cacheURL: url, log: { lines.append($0) })
        let pool = ThreadPool(threadCount: 1)
        let geometry = Self.geometry(size: 8, channels: 4, batch: 2)
        let first = try ConvolutionBackendChooser(layer: "conv1", geometry: geometry, gemm: GEMM(pool: pool), needsDataGradient: true,
                                                  tuning: tuning).choose(.auto)
        #expect(first.selection.timings.contains { $0.milliseconds != nil && $0.note == nil })
        #expect(lines.all.contains { $0.hasPrefix("auto backend conv1: timing direct, im2col") }, "\(lines.all)")
        tuning.save()
        #expect(FileManager.default.fileExists(atPath: url.path))
        #expect(try FileManager.default.contentsOfDirectory(atPath: url.deletingLastPathComponent().path) == ["backend-timings.json"])

        // A new process (a new tuning object) reads the file: same pick, nothing timed, said in the summary.
        let again = AutoBackendTuning(cacheURL: url, log: { lines.append($0) })
        let before = lines.all.count
        let second = try ConvolutionBackendChooser(layer: "conv1", geometry: geometry, gemm: GEMM(pool: pool), needsDataGradient: true,
                                                   tuning: again).choose(.auto)
        #expect(second.selection.chosen == first.selection.chosen)
        #expect(lines.all.count == before, "a cached layer is not timed: \(lines.all)")
        #expect(second.selection.summary.contains("(auto, cached timings: "))
        let firstTimes = first.selection.timings.map(\.milliseconds)
        #expect(second.selection.timings.map(\.milliseconds) == firstTimes)

        // Another thread count is another key: timed again.
        let twoThreads = try ConvolutionBackendChooser(layer: "conv1", geometry: geometry, gemm: GEMM(pool: ThreadPool(threadCount: 2)),
                                                       needsDataGradient: true, tuning: again).choose(.auto)
        #expect(twoThreads.selection.timings.allSatisfy { $0.note != "cached" })
        #expect(lines.all.count == before + 1)
    }

    @Test func aDamagedCacheIsIgnoredWithANoteAndReplaced() throws {
        let folder = Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("backend-timings.json")
        try Data("{\"format\": 1, \"timings\": [".utf8).write(to: url)
        let lines = LineCollector()
        let tuning = AutoBackendTuning(cacheURL: url, log: { lines.append($0) })
        let geometry = Self.geometry(size: 6, channels: 2, batch: 1)
        _ = try ConvolutionBackendChooser(layer: "c", geometry: geometry, gemm: GEMM(pool: ThreadPool(threadCount: 1)),
                                          needsDataGradient: false, tuning: tuning).choose(.auto)
        #expect(lines.all.contains { $0.hasPrefix("note: ignoring the damaged backend timings cache \(url.path)") }, "\(lines.all)")
        tuning.save()
        let document = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any]
        #expect((document?["timings"] as? [String: Any])?.count == 1)
    }

    @Test func theCacheLivesUnderXDGCacheHomeElseHome() {
        #expect(AutoBackendTuning.defaultCacheURL(environment: ["XDG_CACHE_HOME": "/x/cache", "HOME": "/h"])?.path
                == "/x/cache/cnnspec/backend-timings.json")
        #expect(AutoBackendTuning.defaultCacheURL(environment: ["XDG_CACHE_HOME": "relative", "HOME": "/h"])?.path
                == "/h/.cache/cnnspec/backend-timings.json")
        #expect(AutoBackendTuning.defaultCacheURL(environment: [:]) == nil)
    }

    @Test func theProgressLineFitsTheTerminal() {
        let status = "loss 0.1234  acc 97.00%    5000 img/s  ETA 12s"
        for columns in [20, 40, 60, 80, 120, 200] {
            let line = ProgressReporter.liveText(epoch: 3, epochs: 10, step: 120, steps: 600, status: status, columns: columns)
            #expect(line.count <= columns - 1, "\(columns): \(line)")
        }
        #expect(ProgressReporter.liveText(epoch: 3, epochs: 10, step: 120, steps: 600, status: status, columns: 200).contains("█"))
        // A shorter bar first, then none and a cut line, never a wrapped one.
        let ninety = ProgressReporter.liveText(epoch: 3, epochs: 10, step: 120, steps: 600, status: status, columns: 90)
        #expect(ninety.contains("█") && ninety.hasSuffix("ETA 12s") && ninety.count < 11 + 28 + status.count + 10)
        let sixty = ProgressReporter.liveText(epoch: 3, epochs: 10, step: 120, steps: 600, status: status, columns: 60)
        #expect(sixty.hasPrefix("epoch 3/10 120/600  loss") && sixty.hasSuffix("…") && sixty.count == 59)
        #expect(TerminalLine.fitted("abcdef", columns: 4) == "ab…")
        #expect(TerminalLine.fitted("abc", columns: 4) == "abc")
        #expect(TerminalLine.columns(of: -1, environment: ["COLUMNS": "61"]) == 61)
        #expect(TerminalLine.columns(of: -1, environment: [:]) == TerminalLine.fallbackColumns)
    }

    @Test func outputThatIsNotATerminalHasNoCarriageReturns() throws {
        let pipe = Pipe()
        let descriptor = pipe.fileHandleForWriting.fileDescriptor
        let line = TerminalLine(descriptor: descriptor, plainInterval: 0)
        #expect(!line.isTerminal)
        line.report("decoding train: 64/128 images, 1000 images/s\r")
        line.report("decoding train: 128/128 images, 1000 images/s\r")
        line.report("note: 2 files skipped\n")
        line.update("status")
        line.line("done")
        try pipe.fileHandleForWriting.close()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(!text.contains("\r") && !text.contains("\u{1B}"))
        #expect(text == "decoding train: 64/128 images, 1000 images/s\ndecoding train: 128/128 images, 1000 images/s\n"
                + "note: 2 files skipped\nstatus\ndone\n")
        // Throttled: a plain status at most once per interval.
        let quiet = Pipe()
        let throttled = TerminalLine(descriptor: quiet.fileHandleForWriting.fileDescriptor, plainInterval: 3600)
        for index in 0..<50 { throttled.update("step \(index)") }
        try quiet.fileHandleForWriting.close()
        #expect(String(decoding: quiet.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self) == "step 0\n")
    }
}

/// Lines a log callback received, from any thread.
final class LineCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    func append(_ line: String) { lock.lock(); lines.append(line); lock.unlock() }
    var all: [String] { lock.lock(); defer { lock.unlock() }; return lines }
}
