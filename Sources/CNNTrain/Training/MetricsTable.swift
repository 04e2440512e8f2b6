import Foundation

/// The rows of a run folder's `metrics.csv` (`epoch,iteration,split,loss,accuracy,learning_rate,…`).
public struct MetricsTable: Sendable {
    public typealias Row = MetricsRow

    public var rows: [Row]

    /// Parses CSV text; lines that do not parse are skipped (a run killed mid-write leaves a partial last line).
    public init(csv: String) {
        var parsed: [Row] = []
        let lines = csv.split(whereSeparator: \.isNewline)
        guard let header = lines.first?.split(separator: ",").map(String.init) else { rows = []; return }
        func column(_ name: String) -> Int? { header.firstIndex(of: name) }
        guard let epoch = column("epoch"), let iteration = column("iteration"), let split = column("split"),
              let loss = column("loss"), let accuracy = column("accuracy") else { rows = []; return }
        let rate = column("learning_rate"), seconds = column("seconds"), throughput = column("images_per_second")
        for line in lines.dropFirst() {
            let fields = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            guard fields.count == header.count, let e = Int(fields[epoch]), let i = Int(fields[iteration]),
                  let l = Double(fields[loss]), let a = Double(fields[accuracy]) else { continue }
            parsed.append(Row(epoch: e, iteration: i, split: fields[split], loss: l, accuracy: a,
                              learningRate: rate.flatMap { Double(fields[$0]) } ?? .nan,
                              seconds: seconds.flatMap { Double(fields[$0]) } ?? .nan,
                              imagesPerSecond: throughput.flatMap { Double(fields[$0]) }))
        }
        rows = parsed
    }

    /// Iterations per epoch, from the end-of-epoch training rows (nil when none was logged).
    public var iterationsPerEpoch: Double? {
        guard let row = rows.first(where: { $0.split == "train" && $0.epoch > 0 }) else { return nil }
        return Double(row.iteration) / Double(row.epoch)
    }

    /// Training progress of `row` in epochs (fractional for mid-epoch evaluations).
    public func position(of row: Row) -> Double {
        guard let perEpoch = iterationsPerEpoch, perEpoch > 0 else { return Double(row.epoch) }
        return Double(row.iteration) / perEpoch
    }

    public func rows(split: String) -> [Row] { rows.filter { $0.split == split } }
}
