import Foundation

/// The rows of a run folder's `metrics.csv` (columns in `MetricsLog.header`; files written before the
/// `averaged_over` and `epochs_trained` columns existed read too, their train rows being epoch rows).
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
        let scope = column("averaged_over"), epochsTrained = column("epochs_trained")
        for line in lines.dropFirst() {
            let fields = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            guard fields.count == header.count, let e = Int(fields[epoch]), let i = Int(fields[iteration]),
                  let l = Double(fields[loss]), let a = Double(fields[accuracy]) else { continue }
            var rowScope: Row.Scope?
            if let scope {
                guard let known = Row.Scope(rawValue: fields[scope]) else { continue }
                rowScope = known
            }
            parsed.append(Row(epoch: e, iteration: i, split: fields[split], loss: l, accuracy: a,
                              learningRate: rate.flatMap { Double(fields[$0]) } ?? .nan,
                              seconds: seconds.flatMap { Double(fields[$0]) } ?? .nan,
                              imagesPerSecond: throughput.flatMap { Double(fields[$0]) },
                              scope: rowScope, epochsTrained: epochsTrained.flatMap { Double(fields[$0]) }))
        }
        rows = parsed
    }

    /// Iterations per epoch: from `epochs_trained` when logged, else from the first end-of-epoch training
    /// row (older files; wrong when that epoch was cut short by `train.iterations`); nil when neither is there.
    public var iterationsPerEpoch: Double? {
        if let row = rows.first(where: { ($0.epochsTrained ?? 0) > 0 }), let epochs = row.epochsTrained {
            // Whole batches per epoch; `epochs_trained` is written with 6 significant digits.
            return (Double(row.iteration) / epochs).rounded()
        }
        guard let row = rows.first(where: { $0.isEpochRow && $0.epoch > 0 }) else { return nil }
        return Double(row.iteration) / Double(row.epoch)
    }

    /// Training progress of `row` in epochs (fractional for rows written mid-epoch).
    public func position(of row: Row) -> Double {
        if let epochs = row.epochsTrained { return epochs }
        guard let perEpoch = iterationsPerEpoch, perEpoch > 0 else { return Double(row.epoch) }
        return Double(row.iteration) / perEpoch
    }

    public func rows(split: String) -> [Row] { rows.filter { $0.split == split } }

    /// The training curve: the rows every `train.log_every` iterations, else (files from before they
    /// existed) the end-of-epoch rows.
    public var trainingCurve: [Row] {
        let interval = rows.filter(\.isIntervalRow)
        return interval.isEmpty ? rows.filter(\.isEpochRow) : interval
    }

    /// The end-of-epoch training rows.
    public var epochRows: [Row] { rows.filter(\.isEpochRow) }
}
