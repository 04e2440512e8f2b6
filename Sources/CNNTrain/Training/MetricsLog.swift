import Foundation

/// One row of metrics.csv: which split, when, what the figures are averaged over, and how the model did.
public struct MetricsRow: Sendable, Equatable {
    /// What a row's loss and accuracy are averaged over.
    public enum Scope: String, Sendable, CaseIterable {
        /// Training batches since the previous training row (`train.log_every` iterations).
        case iterations
        /// Every training batch of the epoch (the end-of-epoch row).
        case epoch
        /// A full pass over the validation or test images.
        case dataset
    }

    public var epoch: Int
    public var iteration: Int
    /// `train`, `validation` or `test`.
    public var split: String
    public var loss: Double
    public var accuracy: Double
    public var learningRate: Double
    /// Wall time since the run started.
    public var seconds: Double
    /// Training throughput over the rows' batches (train rows only).
    public var imagesPerSecond: Double?
    public var scope: Scope
    /// Training done when the row was written, in epochs: iteration ÷ batches per epoch (nil in files
    /// written before the column existed).
    public var epochsTrained: Double?

    public init(epoch: Int, iteration: Int, split: String, loss: Double, accuracy: Double, learningRate: Double,
                seconds: Double, imagesPerSecond: Double? = nil, scope: Scope? = nil, epochsTrained: Double? = nil) {
        self.epoch = epoch; self.iteration = iteration; self.split = split; self.loss = loss
        self.accuracy = accuracy; self.learningRate = learningRate; self.seconds = seconds
        self.imagesPerSecond = imagesPerSecond
        self.scope = scope ?? (split == "train" ? .epoch : .dataset)
        self.epochsTrained = epochsTrained
    }

    /// A training row over the last `train.log_every` iterations.
    public var isIntervalRow: Bool { split == "train" && scope == .iterations }
    /// An end-of-epoch training row.
    public var isEpochRow: Bool { split == "train" && scope == .epoch }

    var csvLine: String {
        let throughput = imagesPerSecond.map { String(format: "%.1f", $0) } ?? ""
        let epochs = epochsTrained.map { String(format: "%.6g", $0) } ?? ""
        return "\(epoch),\(iteration),\(split),\(String(format: "%.6f", loss)),\(String(format: "%.6f", accuracy)),"
            + "\(learningRate),\(String(format: "%.3f", seconds)),\(throughput),\(scope.rawValue),\(epochs)"
    }
}

/// `metrics.csv` of a run folder: training rows every `train.log_every` iterations and at every epoch
/// end, validation and test rows; rewritten atomically (temp file + rename), at most once per
/// `minimumWriteInterval` for training rows, at once for the others and before every resume save.
public final class MetricsLog {
    /// The columns. `averaged_over` (a `MetricsRow.Scope`) and `epochs_trained` were added after the
    /// others; they are last so that scripts reading columns by position keep working.
    public static let header = "epoch,iteration,split,loss,accuracy,learning_rate,seconds,images_per_second,averaged_over,epochs_trained"
    /// The header of files written before the last two columns existed: resumed and upgraded.
    static let legacyHeader = "epoch,iteration,split,loss,accuracy,learning_rate,seconds,images_per_second"
    /// Seconds between rewrites for training rows: with `log_every: 1` on a long run, rewriting the whole
    /// file after every row would cost time quadratic in the rows.
    public static let minimumWriteInterval = 1.0

    private let folder: RunFolder
    private var lines: [String]
    private var unwritten = false
    private var lastWrite = 0.0
    /// `output.tensorboard`: every appended row also goes to this event file, as scalars.
    public var tensorboard: TensorBoardWriter?

    /// Continues an existing `metrics.csv` (on resume) or starts a new one.
    public init(folder: RunFolder) {
        self.folder = folder
        let existing = (try? String(contentsOf: folder.file(RunFolder.metricsFile), encoding: .utf8)) ?? ""
        let rows = existing.split(separator: "\n").map(String.init).filter { !$0.isEmpty }
        if rows.first == Self.header {
            lines = rows
        } else if rows.first == Self.legacyHeader {
            lines = [Self.header] + rows.dropFirst().map(Self.upgrade)
            unwritten = true
        } else {
            lines = [Self.header]
        }
    }

    /// A row of the legacy format with the new columns filled in (train rows were epoch rows then).
    static func upgrade(_ line: String) -> String {
        let split = line.split(separator: ",", omittingEmptySubsequences: false)
        let scope: MetricsRow.Scope = split.count > 2 && split[2] == "train" ? .epoch : .dataset
        return line + ",\(scope.rawValue),"
    }

    /// Rows written so far (the header not counted).
    public var rowCount: Int { lines.count - 1 }

    /// Drops the rows after the first `count` (rows written after the resume state being restored).
    public func truncate(toRows count: Int) throws(FileWriteError) {
        guard count >= 0, count < rowCount else { return try flush() }
        lines.removeLast(rowCount - count)
        unwritten = true
        try flush()
    }

    /// Adds a row; writes the file at once unless `soon`, which waits for `minimumWriteInterval` since
    /// the last write (or the next `flush`).
    public func append(_ row: MetricsRow, soon: Bool = false) throws(FileWriteError) {
        lines.append(row.csvLine)
        unwritten = true
        try tensorboard?.write(row)
        if !soon || ProcessInfo.processInfo.systemUptime - lastWrite >= Self.minimumWriteInterval { try flush() }
    }

    /// Writes rows not yet on disk.
    public func flush() throws(FileWriteError) {
        guard unwritten else { return }
        try folder.write(lines.joined(separator: "\n") + "\n", to: RunFolder.metricsFile)
        unwritten = false
        lastWrite = ProcessInfo.processInfo.systemUptime
    }
}

/// How often training rows go into metrics.csv: `train.log_every`, else enough for about
/// `targetPoints` points over the run, so that a short run shows a curve rather than a few epoch dots.
public enum MetricsCadence {
    /// Training rows per run when `train.log_every` is not set.
    public static let targetPoints = 100

    /// Iterations between training rows: `logEvery` when set, else `totalIterations / targetPoints`
    /// rounded down (so at least `targetPoints` rows for runs that long), at least 1.
    public static func interval(logEvery: Int?, totalIterations: Int) -> Int {
        if let logEvery, logEvery > 0 { return logEvery }
        return max(1, totalIterations / targetPoints)
    }
}
