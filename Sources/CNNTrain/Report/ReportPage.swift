import Foundation

/// Renders one self-contained HTML page (inline CSS, SVG and PNG data URIs; no scripts, no network)
/// for one or several runs: overlaid curves, then per run the confusion matrix, per-class accuracy,
/// an image grid, the most confident mistakes, the resolved config and the model's shapes table.
public struct ReportPage: Sendable {
    public var runs: [RunReportData]
    /// Test images shown in the grid, and confident mistakes listed.
    public var gridCount = 48
    public var mistakeCount = 16
    /// A sweep's ranked results and hyperparameter charts, shown first when the runs are a sweep's.
    public var sweep: SweepOverview?

    public init(runs: [RunReportData]) { self.runs = runs }

    /// Run colours (matplotlib's tab10, then the darker half of tab20b), so 16 overlaid runs stay apart.
    static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22",
                          "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd"]
    /// Overlaying more runs than this widens the charts, so that the legend fits in columns.
    static let runsPerNarrowChart = 4

    public func render() -> String {
        var html = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8">
            <title>cnnspec report: \(HTML.escape(runs.map(\.name).joined(separator: ", ")))</title>
            <style>
            body { font-family: system-ui, sans-serif; margin: 24px; color: #222; max-width: 1240px; }
            h1 { font-size: 22px; } h2 { font-size: 18px; border-bottom: 1px solid #ccc; padding-bottom: 4px; margin-top: 28px; }
            h3 { font-size: 15px; }
            .charts { display: flex; flex-wrap: wrap; gap: 12px; }
            .chart { background: #fff; border: 1px solid #ddd; }
            .chart-title { font-size: 14px; font-weight: 600; }
            table.confusion { border-collapse: collapse; font-size: 12px; }
            table.confusion td, table.confusion th { width: 44px; height: 30px; text-align: center; border: 1px solid #eee; }
            table.confusion th.row { text-align: right; padding-right: 6px; width: auto; }
            table.perclass { border-collapse: collapse; font-size: 13px; }
            table.perclass td, table.perclass th { padding: 2px 10px; border-bottom: 1px solid #eee; text-align: right; }
            .grid { display: flex; flex-wrap: wrap; gap: 6px; }
            figure.sample { margin: 0; padding: 3px; border: 2px solid #cfe8cf; text-align: center; font-size: 11px; width: 84px; line-height: 1.25; }
            figure.sample.wrong { border-color: #d62728; background: #fde8e8; }
            figure.sample img { image-rendering: pixelated; display: block; margin: 0 auto; }
            pre { background: #f6f6f6; padding: 10px; overflow-x: auto; font-size: 12px; }
            .side { display: flex; gap: 32px; flex-wrap: wrap; align-items: flex-start; }
            .note { color: #a05a00; }
            table.sweep-results { border-collapse: collapse; font-size: 13px; margin-bottom: 14px; }
            table.sweep-results td, table.sweep-results th { padding: 2px 10px; border-bottom: 1px solid #eee; text-align: left; }
            table.sweep-results tr:nth-child(2) td { font-weight: 600; }
            .run-header, .report-header { color: #555; font-size: 13px; }
            </style></head><body>
            <h1>cnnspec report</h1>

            """
        html += "<p class=\"report-header\">made \(HTML.escape(RunHeader.current(threads: 0, kernels: "", backends: []).date)) with cnnspec "
            + "\(HTML.escape(CNNSpecVersion.described))</p>\n"
        if let sweep { html += sweep.html() }
        html += "<p>" + runs.map { run in
            var text = "<b>\(HTML.escape(run.name))</b> (\(HTML.escape(run.folder.path)))"
            if let predictions = run.predictions {
                text += String(format: ": test accuracy <b class=\"test-accuracy\">%.2f%%</b>", predictions.accuracy * 100)
                    + " on \(predictions.count) images with \(HTML.escape(run.checkpointName ?? "")) weights"
            }
            return text
        }.joined(separator: "<br>\n") + "</p>\n"
        html += "<h2>Training curves</h2>\n<div class=\"charts\">\n" + curves() + "</div>\n"
        for (index, run) in runs.enumerated() {
            html += section(for: run, color: Self.palette[index % Self.palette.count])
        }
        html += "</body></html>\n"
        return html
    }

    /// Loss, accuracy and learning rate against iterations (every chart on the same x scale), with
    /// epochs along the top when the runs share their iterations per epoch. Training points are the rows
    /// every `train.log_every` iterations (end-of-epoch rows in older runs), validation points sit at the
    /// iteration they were evaluated at.
    private func curves() -> String {
        let several = runs.count > 1
        var loss: [SVGLineChart.Series] = [], accuracy: [SVGLineChart.Series] = [], rate: [SVGLineChart.Series] = []
        for (index, run) in runs.enumerated() {
            let color = Self.palette[index % Self.palette.count]
            let validationColor = several ? color : Self.palette[1]
            let prefix = several ? run.name + " " : ""
            let table = run.metrics
            for (split, rows, dashed, splitColor) in [("train", table.trainingCurve, false, color),
                                                      ("validation", table.rows(split: "validation"), true, validationColor)] {
                guard !rows.isEmpty else { continue }
                loss.append(.init(name: prefix + split, color: splitColor, dashed: dashed, points: rows.map { (Double($0.iteration), $0.loss) }))
                accuracy.append(.init(name: prefix + split, color: splitColor, dashed: dashed, points: rows.map { (Double($0.iteration), $0.accuracy) }))
            }
            let train = table.trainingCurve
            if !train.isEmpty {
                rate.append(.init(name: prefix + "learning rate", color: color, points: train.map { (Double($0.iteration), $0.learningRate) }))
            }
        }
        let lastIteration = runs.flatMap(\.metrics.rows).map(\.iteration).max() ?? 0
        let perEpoch = Set(runs.compactMap { $0.metrics.iterationsPerEpoch })
        func chart(_ title: String, _ yLabel: String, _ series: [SVGLineChart.Series], percent: Bool = false) -> String {
            var chart = SVGLineChart(title: title, xLabel: "iteration", yLabel: yLabel, series: series, percent: percent)
            if lastIteration > 0 { chart.xDomain = (0, Double(lastIteration)) }
            if several {
                // One entry per run (its colour) and one per line style, instead of run × split entries.
                chart.legend = runs.enumerated().map { (name: $0.element.name, color: Self.palette[$0.offset % Self.palette.count], dashed: false) }
                if title != "Learning rate" { chart.legend? += [("train", "#444", false), ("validation", "#444", true)] }
                if runs.count > Self.runsPerNarrowChart { chart.width = 600 }
            }
            if perEpoch.count == 1, let iterations = perEpoch.first { chart.secondaryAxis = .init(label: "epoch", primaryPerUnit: iterations) }
            return chart.render()
        }
        return [chart("Loss", "cross-entropy loss", loss), chart("Accuracy", "accuracy", accuracy, percent: true),
                chart("Learning rate", "learning rate", rate)].joined(separator: "\n") + "\n"
    }

    private func section(for run: RunReportData, color: String) -> String {
        var html = "<h2 class=\"run\" style=\"border-color: \(color)\">\(HTML.escape(run.name))</h2>\n"
        if let header = run.header { html += "<p class=\"run-header\">trained \(HTML.escape(header.summaryLine))</p>\n" }
        for problem in run.problems { html += "<p class=\"note\">note: \(HTML.escape(problem))</p>\n" }
        if let predictions = run.predictions {
            html += "<div class=\"side\"><div><h3>Test confusion matrix (rows: true class, columns: predicted)</h3>\n"
                + confusionTable(predictions) + "</div><div><h3>Per-class accuracy</h3>\n" + perClassTable(predictions) + "</div></div>\n"
            if let images = run.testImages {
                let shown = Array(0..<min(gridCount, predictions.count))
                let wrongShown = shown.filter { predictions.labels[$0] != predictions.predicted[$0] }.count
                html += "<h3>First \(shown.count) test images (\(wrongShown) wrong, red)</h3>\n" + grid(shown, predictions, images)
                let mistakes = Array(predictions.mistakesByConfidence.prefix(mistakeCount))
                html += "<h3>Most confident mistakes</h3>\n" + (mistakes.isEmpty ? "<p>none</p>\n" : grid(mistakes, predictions, images))
            }
        }
        if let shapes = run.shapesTable { html += "<h3>Model shapes</h3>\n<pre class=\"shapes\">\(HTML.escape(shapes))</pre>\n" }
        html += "<h3>Resolved config</h3>\n<pre class=\"config\">\(HTML.escape(run.configText))</pre>\n"
        if let summary = run.summaryJSON { html += "<h3>summary.json</h3>\n<pre class=\"summary\">\(HTML.escape(summary))</pre>\n" }
        return html
    }

    private func confusionTable(_ predictions: TestPredictions) -> String {
        let matrix = predictions.confusionMatrix
        let names = predictions.classNames
        var html = "<table class=\"confusion\"><tr><th></th>" + names.map { "<th>\(HTML.escape($0))</th>" }.joined() + "</tr>\n"
        for (row, counts) in matrix.enumerated() {
            let total = max(1, counts.reduce(0, +))
            html += "<tr><th class=\"row\">\(HTML.escape(names[row]))</th>"
            for (column, count) in counts.enumerated() {
                let share = Double(count) / Double(total)
                let background = row == column
                    ? String(format: "rgba(31,119,180,%.3f)", share)
                    : String(format: "rgba(214,39,40,%.3f)", min(1, share * 5))
                let textColor = share > 0.5 ? "#fff" : "#222"
                html += "<td style=\"background:\(background);color:\(textColor)\" title=\"true \(HTML.escape(names[row])), predicted \(HTML.escape(names[column])): \(count)\">\(count)</td>"
            }
            html += "</tr>\n"
        }
        return html + "</table>\n"
    }

    private func perClassTable(_ predictions: TestPredictions) -> String {
        let matrix = predictions.confusionMatrix
        var html = "<table class=\"perclass\"><tr><th>class</th><th>accuracy</th><th>correct</th><th>images</th></tr>\n"
        for (index, name) in predictions.classNames.enumerated() {
            let total = matrix[index].reduce(0, +)
            let accuracy = total == 0 ? 0 : Double(matrix[index][index]) / Double(total)
            html += "<tr><td>\(HTML.escape(name))</td><td>" + String(format: "%.2f%%", accuracy * 100)
                + "</td><td>\(matrix[index][index])</td><td>\(total)</td></tr>\n"
        }
        return html + "</table>\n"
    }

    /// Shorter side of the test pictures shown, at most (larger pictures are scaled down).
    static let galleryPictureSide = 96

    private func grid(_ indices: [Int], _ predictions: TestPredictions, _ images: Dataset) -> String {
        var html = "<div class=\"grid\">\n"
        images.withPixels { pixels in
            for index in indices where index < images.count {
                var (offset, size) = images.sample(index)
                var planes = Array(pixels[offset..<(offset + images.channels * size.plane)])
                // Pictures kept at their own size are shown with a shorter side of at most `galleryPictureSide`.
                (planes, size) = PictureSizing.own(cacheSide: Self.galleryPictureSide).stored(planes, channels: images.channels, size: size)
                let picture = planes.withUnsafeBufferPointer {
                    RasterImage(planar: $0, channels: images.channels, height: size.height, width: size.width)
                }
                let factor = max(1, 56 / max(size.width, size.height))
                let upscaled = picture.upscaled(by: factor)
                let truth = predictions.classNames[Int(predictions.labels[index])]
                let guess = predictions.classNames[Int(predictions.predicted[index])]
                let wrong = truth != guess
                html += "<figure class=\"sample\(wrong ? " wrong" : "")\"><img src=\"\(PNGEncoder.dataURI(upscaled))\" width=\"\(upscaled.width)\" height=\"\(upscaled.height)\" alt=\"test image \(index)\">"
                    + "<figcaption>#\(index) true <b>\(HTML.escape(truth))</b><br>pred <b>\(HTML.escape(guess))</b>"
                    + String(format: " %.0f%%", predictions.confidence[index] * 100) + "</figcaption></figure>\n"
            }
        }
        return html + "</div>\n"
    }
}
