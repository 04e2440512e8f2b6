import Foundation

/// One evaluation: which split, when, and how the model did.
public struct MetricsRow: Sendable, Equatable {
    public var epoch: Int
    public var iteration: Int
    /// `train`, `validation` or `test`.
    public var split: String
    public var loss: Double
    public var accuracy: Double
    public var learningRate: Double
    /// Wall time since the run started.
    public var seconds: Double
    /// Training throughput over the epoch (train rows only).
    public var imagesPerSecond: Double?

    public init(epoch: Int, iteration: Int, split: String, loss: Double, accuracy: Double, learningRate: Double,
                seconds: Double, imagesPerSecond: Double? = nil) {
        self.epoch = epoch; self.iteration = iteration; self.split = split; self.loss = loss
        self.accuracy = accuracy; self.learningRate = learningRate; self.seconds = seconds
        self.imagesPerSecond = imagesPerSecond
    }

    var csvLine: String {
        let throughput = imagesPerSecond.map { String(format: "%.1f", $0) } ?? ""
        return "\(epoch),\(iteration),\(split),\(String(format: "%.6f", loss)),\(String(format: "%.6f", accuracy)),"
            + "\(learningRate),\(String(format: "%.3f", seconds)),\(throughput)"
    }
}

/// `metrics.csv` of a run folder: one row per evaluation, rewritten atomically after each new row.
public final class MetricsLog {
    public static let header = "epoch,iteration,split,loss,accuracy,learning_rate,seconds,images_per_second"
    private let folder: RunFolder
    private var lines: [String]

    /// Continues an existing `metrics.csv` (on resume) or starts a new one.
    public init(folder: RunFolder) {
        self.folder = folder
        let existing = (try? String(contentsOf: folder.file(RunFolder.metricsFile), encoding: .utf8)) ?? ""
        let rows = existing.split(separator: "\n").map(String.init).filter { !$0.isEmpty }
        lines = rows.first == Self.header ? rows : [Self.header]
    }

    /// Rows written so far (the header not counted).
    public var rowCount: Int { lines.count - 1 }

    /// Drops the rows after the first `count` (rows written after the resume state being restored).
    public func truncate(toRows count: Int) throws(FileWriteError) {
        guard count >= 0, count < rowCount else { return }
        lines.removeLast(rowCount - count)
        try folder.write(lines.joined(separator: "\n") + "\n", to: RunFolder.metricsFile)
    }

    public func append(_ row: MetricsRow) throws(FileWriteError) {
        lines.append(row.csvLine)
        try folder.write(lines.joined(separator: "\n") + "\n", to: RunFolder.metricsFile)
    }
}
