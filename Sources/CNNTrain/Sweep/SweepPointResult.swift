import Foundation

/// What a point's run folder says about it: finished (with its figures), resumable, or not started.
public struct SweepPointResult: Sendable {
    public enum Status: String, Sendable {
        /// summary.json says `"interrupted": false` and has a test accuracy.
        case finished
        /// Interrupted with resume.safetensors: continue with `cnnspec run --resume`.
        case resumable
        /// No usable state: (re)start from scratch.
        case notStarted = "not started"
        /// The last attempt exited with an error (set by the runner).
        case failed
    }

    public var status: Status
    public var testAccuracy: Double?
    public var testLoss: Double?
    /// Highest accuracy over the `validation` rows of metrics.csv.
    public var bestValidationAccuracy: Double?
    public var bestValidationLoss: Double?
    /// Wall seconds per epoch (from metrics.csv's end-of-epoch train rows: time of the last one / their number; an epoch
    /// cut short by `train.iterations` counts as one), nil before the first epoch ends.
    public var epochSeconds: Double?
    public var trainImagesPerSecond: Double?
    public var seconds: Double?
    public var iterations: Int?

    /// Reads `summary.json` and `metrics.csv` in `folder` (missing or unreadable files mean "not started").
    public init(folder: URL) {
        status = .notStarted
        let summaryURL = folder.appendingPathComponent(RunFolder.summaryFile)
        let summary = (try? Data(contentsOf: summaryURL))
            .flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] } ?? [:]
        testAccuracy = summary["test_accuracy"] as? Double
        testLoss = summary["test_loss"] as? Double
        bestValidationLoss = summary["best_validation_loss"] as? Double
        trainImagesPerSecond = summary["train_images_per_second"] as? Double
        seconds = summary["seconds"] as? Double
        iterations = summary["iterations"] as? Int
        if summary["interrupted"] as? Bool == false && testAccuracy != nil {
            status = .finished
        } else if FileManager.default.fileExists(atPath: folder.appendingPathComponent(RunFolder.resumeFile).path) {
            status = .resumable
        }
        readMetrics(folder.appendingPathComponent(RunFolder.metricsFile))
    }

    private mutating func readMetrics(_ url: URL) {
        guard let text = try? String(contentsOf: url, encoding: .utf8) else { return }
        let table = MetricsTable(csv: text)
        for row in table.rows(split: "validation") {
            bestValidationAccuracy = max(bestValidationAccuracy ?? row.accuracy, row.accuracy)
            bestValidationLoss = min(bestValidationLoss ?? row.loss, row.loss)
        }
        let trainRows = table.epochRows
        if let last = trainRows.last, last.seconds.isFinite { epochSeconds = last.seconds / Double(trainRows.count) }
    }
}
