import CNNSpec
import Foundation

/// The ranked results of a sweep, as markdown and CSV.
public struct SweepResultsTable: Sendable {
    public struct Row: Sendable {
        public var point: SweepPoint
        public var result: SweepPointResult
        /// The point's run folder as shown in the table.
        public var folder: String
        /// The ranking figure, nil when the run has none yet.
        public var score: Double?
        /// True when the best validation accuracy was asked for but the run has no validation rows.
        public var scoreIsTestFallback: Bool
    }

    public var metric: SweepMetric
    public var keyPaths: [String]
    /// Finished points best first, then unfinished ones (ranked by their figures so far, unnumbered);
    /// points without a score last, in sweep order.
    public var rows: [Row]

    public init(spec: SweepSpec, entries: [(point: SweepPoint, result: SweepPointResult, folder: String)]) {
        metric = spec.metric
        keyPaths = spec.parameters.map(\.keyPath)
        let unranked = entries.map { entry -> Row in
            let result = entry.result
            let finished = result.status == .finished
            var score: Double?
            var fallback = false
            switch spec.metric {
            case .bestValidationAccuracy:
                score = result.bestValidationAccuracy
                if score == nil, finished, let test = result.testAccuracy { score = test; fallback = true }
            case .testAccuracy: score = finished ? result.testAccuracy : nil
            case .bestValidationLoss: score = result.bestValidationLoss
            case .testLoss: score = finished ? result.testLoss : nil
            }
            return Row(point: entry.point, result: result, folder: entry.folder, score: score, scoreIsTestFallback: fallback)
        }
        let higher = spec.metric.higherIsBetter
        rows = unranked.sorted { a, b in
            let aDone = a.result.status == .finished, bDone = b.result.status == .finished
            if aDone != bDone { return aDone }
            switch (a.score, b.score) {
            case let (x?, y?): return x != y ? (higher ? x > y : x < y) : a.point.index < b.point.index
            case (_?, nil): return true
            case (nil, _?): return false
            case (nil, nil): return a.point.index < b.point.index
            }
        }
    }

    /// The columns after the score, in `markdown` and before `score_is_test_accuracy` in `csv`.
    public static let trailingColumns = ["test_accuracy", "epoch_seconds", "train_images_per_second", "status", "run_folder",
                                         "score_is_test_accuracy"]
    /// Stands for the score column (named after the metric) when matching a header's fixed tail.
    static let scoreColumnPlaceholder = "<metric>"

    private var header: [String] {
        ["rank", "point"] + keyPaths + [metric.rawValue] + Self.trailingColumns.dropLast()
    }

    private func cells(_ row: Row, rank: Int, forCSV: Bool) -> [String] {
        func percent(_ value: Double?) -> String {
            guard let value else { return forCSV ? "" : "—" }
            return forCSV ? String(format: "%.6f", value) : String(format: "%.2f %%", value * 100)
        }
        let scoreText: String
        if metric.higherIsBetter {
            scoreText = percent(row.score) + (row.scoreIsTestFallback && !forCSV ? " (test)" : "")
        } else {
            scoreText = row.score.map { String(format: forCSV ? "%.6f" : "%.4f", $0) } ?? (forCSV ? "" : "—")
        }
        let missing = forCSV ? "" : "—"
        let finished = row.result.status == .finished
        let epoch = row.result.epochSeconds.map { String(format: "%.1f", $0) } ?? missing
        let throughput = finished ? row.result.trainImagesPerSecond.map { String(format: "%.0f", $0) } ?? missing : missing
        return [row.score == nil || !finished ? missing : String(rank), row.point.id] + row.point.assignments.map(\.value)
            + [scoreText, percent(finished ? row.result.testAccuracy : nil), epoch, throughput,
               row.result.status.rawValue, row.folder]
    }

    /// A markdown table, best first, with a note when some scores fall back to test accuracy.
    public var markdown: String {
        var lines = ["| " + header.joined(separator: " | ") + " |",
                     "|" + header.map { _ in " --- " }.joined(separator: "|") + "|"]
        for (offset, row) in rows.enumerated() {
            let escaped = cells(row, rank: offset + 1, forCSV: false).map { $0.replacingOccurrences(of: "|", with: "\\|") }
            lines.append("| " + escaped.joined(separator: " | ") + " |")
        }
        if rows.contains(where: \.scoreIsTestFallback) {
            lines.append("")
            lines.append("(test): the run has no validation split, so it is ranked by its test accuracy.")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// CSV with the same columns (fractions, not percentages); the score column says which figure it holds.
    public var csv: String {
        var lines = [(header + [Self.trailingColumns.last ?? ""]).joined(separator: ",")]
        for (offset, row) in rows.enumerated() {
            let fields = cells(row, rank: offset + 1, forCSV: true) + [row.scoreIsTestFallback ? "true" : "false"]
            lines.append(fields.map(Self.csvField).joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func csvField(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
