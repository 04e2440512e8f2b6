import CNNSpec
import Foundation

/// A sweep's ranked results as the report leads with them: the table best first, then one chart per
/// varied key of that key's values against the ranking metric. Built from a `SweepResultsTable` or read
/// back from the `results.csv` it wrote (what `cnnspec report runs/sweeps/<name>` finds).
public struct SweepOverview: Sendable {
    public struct Row: Sendable, Equatable {
        /// 1-based rank among finished points; nil for unfinished ones.
        public var rank: Int?
        public var point: String
        /// One value per key path, as written in the sweep.
        public var values: [String]
        public var score: Double?
        public var testAccuracy: Double?
        public var status: String
        public var folder: String
    }

    public var name: String
    public var metric: String
    public var higherIsBetter: Bool
    public var keyPaths: [String]
    /// Best first, as ranked by `SweepResultsTable`.
    public var rows: [Row]

    public init(name: String, table: SweepResultsTable) {
        self.name = name
        metric = table.metric.rawValue
        higherIsBetter = table.metric.higherIsBetter
        keyPaths = table.keyPaths
        let csv = table.csv
        rows = Self.parse(csv)?.rows ?? []
    }

    /// Reads `results.csv`; nil when it is not one (columns in `SweepResultsTable.csv`).
    public init?(name: String, resultsCSV text: String) {
        guard let parsed = Self.parse(text) else { return nil }
        self.name = name
        metric = parsed.metric
        higherIsBetter = SweepMetric(rawValue: parsed.metric)?.higherIsBetter ?? true
        keyPaths = parsed.keyPaths
        rows = parsed.rows
    }

    private static func parse(_ text: String) -> (metric: String, keyPaths: [String], rows: [Row])? {
        let records = CSVText.records(text)
        guard let header = records.first else { return nil }
        let fixedTail = [SweepResultsTable.scoreColumnPlaceholder] + SweepResultsTable.trailingColumns
        guard header.count >= 2 + fixedTail.count, header[0] == "rank", header[1] == "point",
              Array(header.suffix(fixedTail.count - 1)) == SweepResultsTable.trailingColumns else { return nil }
        let metricIndex = header.count - fixedTail.count
        let column = { (name: String) in header.lastIndex(of: name) }
        guard let test = column("test_accuracy"), let status = column("status"), let folder = column("run_folder") else { return nil }
        let rows = records.dropFirst().compactMap { fields -> Row? in
            guard fields.count == header.count else { return nil }
            return Row(rank: Int(fields[0]), point: fields[1], values: Array(fields[2..<metricIndex]), score: Double(fields[metricIndex]),
                       testAccuracy: Double(fields[test]), status: fields[status], folder: fields[folder])
        }
        return (header[metricIndex], Array(header[2..<metricIndex]), rows)
    }

    /// A category's tick label: a path's file name (model files), at most `longestTickLabel` characters.
    static func shortLabel(_ value: String) -> String {
        let name = value.contains("/") ? String(value.split(separator: "/").last ?? Substring(value)) : value
        return name.count > longestTickLabel ? String(name.prefix(longestTickLabel - 1)) + "…" : name
    }

    /// Longer category names are cut: wider labels overlap their neighbours on a 390-pixel chart.
    static let longestTickLabel = 20

    /// Whether `metric` is an accuracy (shown in percent).
    var isAccuracy: Bool { metric.hasSuffix("accuracy") }

    /// A key whose values are all positive numbers spanning more than this ratio gets a log x axis.
    public static let logScaleRatio = 10.0

    /// The overview's HTML: heading, ranked table, one chart per varied key.
    public func html() -> String {
        var html = "<h2 class=\"sweep\">Sweep \(HTML.escape(name)): ranked by \(HTML.escape(metric))"
            + " (\(higherIsBetter ? "highest" : "lowest") first)</h2>\n"
        html += "<table class=\"sweep-results\"><tr><th>rank</th><th>point</th>"
            + keyPaths.map { "<th>\(HTML.escape($0))</th>" }.joined()
            + "<th>\(HTML.escape(metric))</th><th>test accuracy</th><th>status</th></tr>\n"
        for row in rows {
            html += "<tr><td>\(row.rank.map(String.init) ?? "—")</td><td>\(HTML.escape(row.point))</td>"
                + row.values.map { "<td>\(HTML.escape($0))</td>" }.joined()
                + "<td>\(format(row.score, accuracy: isAccuracy))</td><td>\(format(row.testAccuracy, accuracy: true))</td>"
                + "<td>\(HTML.escape(row.status))</td></tr>\n"
        }
        html += "</table>\n<div class=\"charts\">\n"
        for (index, key) in keyPaths.enumerated() { html += chart(key: key, column: index) + "\n" }
        return html + "</div>\n"
    }

    private func format(_ value: Double?, accuracy: Bool) -> String {
        guard let value else { return "—" }
        return accuracy ? String(format: "%.2f%%", value * 100) : String(format: "%.4f", value)
    }

    /// The metric against one key's values: numbers on a linear axis (log when positive and spanning
    /// more than `logScaleRatio`), other values as categories in order of first appearance. Each point
    /// is labelled with its rank.
    func chart(key: String, column: Int) -> String {
        let scored = rows.filter { $0.score != nil }
        let numbers = scored.map { Double($0.values[column]) }
        var chart: SVGLineChart
        var points: [(x: Double, y: Double)] = []
        let labels = scored.map { $0.rank.map { "#\($0)" } ?? $0.point }
        if numbers.allSatisfy({ $0 != nil }) {
            let xs = numbers.compactMap { $0 }
            points = zip(xs, scored).map { ($0, $1.score ?? .nan) }
            chart = SVGLineChart(title: "\(metric) by \(key)", xLabel: key, yLabel: metric,
                                 series: [.init(name: "points (rank)", color: ReportPage.palette[0], points: points, pointLabels: labels)],
                                 percent: isAccuracy)
            if let low = xs.min(), let high = xs.max(), low > 0, high / low > Self.logScaleRatio { chart.logX = true }
        } else {
            var categories: [String] = []
            for row in scored where !categories.contains(row.values[column]) { categories.append(row.values[column]) }
            points = scored.map { (Double(categories.firstIndex(of: $0.values[column]) ?? 0), $0.score ?? .nan) }
            chart = SVGLineChart(title: "\(metric) by \(key)", xLabel: key, yLabel: metric,
                                 series: [.init(name: "points (rank)", color: ReportPage.palette[0], points: points, pointLabels: labels)],
                                 percent: isAccuracy)
            chart.xTickLabels = categories.enumerated().map { (Double($0.offset), Self.shortLabel($0.element)) }
            chart.xDomain = (-0.5, Double(max(categories.count, 1)) - 0.5)
        }
        chart.scatter = true
        chart.labelPoints = true
        return chart.render()
    }
}

/// RFC 4180 CSV records (quoted fields with doubled quotes, as `SweepResultsTable.csvField` writes).
enum CSVText {
    static func records(_ text: String) -> [[String]] {
        var records: [[String]] = [], fields: [String] = [], field = ""
        var quoted = false, afterQuote = false
        for character in text {
            if quoted {
                if character == "\"" { quoted = false; afterQuote = true } else { field.append(character) }
                continue
            }
            switch character {
            case "\"":
                if afterQuote { field.append("\"") }
                quoted = true
            case ",": fields.append(field); field = ""
            case "\n", "\r\n":
                fields.append(field); field = ""
                records.append(fields); fields = []
            default: field.append(character)
            }
            afterQuote = false
        }
        if !field.isEmpty || !fields.isEmpty { fields.append(field); records.append(fields) }
        return records
    }
}
