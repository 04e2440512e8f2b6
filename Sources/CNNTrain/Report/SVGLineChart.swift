import Foundation

/// A hand-written SVG chart: axes with ticks, gridlines, one polyline (or one set of dots) per series, a
/// legend; optionally a secondary x axis on top (epochs over iterations) and a logarithmic x axis.
public struct SVGLineChart: Sendable {
    public struct Series: Sendable {
        public var name: String
        public var color: String
        public var dashed: Bool
        public var points: [(x: Double, y: Double)]
        /// Labels shown next to each point (scatter charts), same count as `points` or empty.
        public var pointLabels: [String]
        public init(name: String, color: String, dashed: Bool = false, points: [(x: Double, y: Double)], pointLabels: [String] = []) {
            self.name = name; self.color = color; self.dashed = dashed; self.points = points; self.pointLabels = pointLabels
        }
    }

    /// A second x scale drawn along the top: `primaryPerUnit` primary units make one of its units
    /// (iterations per epoch), ticks at whole units.
    public struct SecondaryAxis: Sendable {
        public var label: String
        public var primaryPerUnit: Double
        public init(label: String, primaryPerUnit: Double) { self.label = label; self.primaryPerUnit = primaryPerUnit }
    }

    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var series: [Series]
    public var width = 390.0
    public var height = 300.0
    /// Format of the y tick labels (e.g. percent for accuracy).
    public var percent = false
    /// The x range to show (so that charts of one page share their x scale); nil fits the data.
    public var xDomain: (lower: Double, upper: Double)?
    public var secondaryAxis: SecondaryAxis?
    /// Points only, no lines (hyperparameter against metric).
    public var scatter = false
    /// Logarithmic x axis (learning rates spanning decades); non-positive x values are left out.
    public var logX = false
    /// Named x ticks instead of numbers (categorical values such as model names at 0, 1, 2…).
    public var xTickLabels: [(x: Double, label: String)]?
    /// Scatter charts: write each point's label next to it (ranks), so that no legend is needed per point.
    public var labelPoints = false
    /// Legend entries when they are not one per series (several runs: one per run plus the line styles).
    public var legend: [(name: String, color: String, dashed: Bool)]?

    /// Series with more points than this are drawn as lines only: dots every few pixels hide the curve.
    public static let maximumMarkedPoints = 40
    /// Height of one legend row and the room a legend entry takes per character of its name.
    static let legendRowHeight = 16.0, legendCharacterWidth = 6.6, legendSwatchWidth = 40.0

    public init(title: String, xLabel: String, yLabel: String, series: [Series], percent: Bool = false) {
        self.title = title; self.xLabel = xLabel; self.yLabel = yLabel; self.series = series; self.percent = percent
    }

    /// Legend entries per row: as many columns as the widest name allows, so that 12+ runs stay a
    /// compact block instead of a list taller than the chart.
    func legendColumns(names: [String], plotWidth: Double) -> Int {
        let widest = names.map { Double($0.count) }.max() ?? 0
        let column = Self.legendSwatchWidth + widest * Self.legendCharacterWidth + 12
        return max(1, min(names.count, Int(plotWidth / column)))
    }

    /// The `<svg>` element.
    public func render() -> String {
        let left = 62.0, right = 16.0
        let top = secondaryAxis == nil ? 30.0 : 58.0
        let plotWidth = width - left - right
        let entries = legend ?? series.map { (name: $0.name, color: $0.color, dashed: $0.dashed) }
        let columns = legendColumns(names: entries.map(\.name), plotWidth: plotWidth + left - 8)
        let legendRows = Double((entries.count + columns - 1) / max(1, columns))
        let bottom = 44.0 + Self.legendRowHeight * legendRows
        let fullHeight = height + Self.legendRowHeight * legendRows + (top - 30)
        let plotHeight = fullHeight - top - bottom
        func usable(_ point: (x: Double, y: Double)) -> Bool { point.x.isFinite && point.y.isFinite && (!logX || point.x > 0) }
        let all = series.flatMap(\.points).filter(usable)
        var svg = "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"\(fmt(width))\" height=\"\(fmt(fullHeight))\" "
            + "viewBox=\"0 0 \(fmt(width)) \(fmt(fullHeight))\" role=\"img\" aria-label=\"\(HTML.escape(title))\">\n"
        svg += "<text x=\"\(fmt(width / 2))\" y=\"18\" text-anchor=\"middle\" class=\"chart-title\">\(HTML.escape(title))</text>\n"
        guard !all.isEmpty else {
            svg += "<text x=\"\(fmt(width / 2))\" y=\"\(fmt(fullHeight / 2))\" text-anchor=\"middle\">no data logged</text>\n</svg>"
            return svg
        }
        let xs = all.map(\.x)
        let xRange: (lower: Double, upper: Double, ticks: [Double])
        if logX {
            xRange = Self.logRange(xDomain?.lower ?? xs.min() ?? 1, xDomain?.upper ?? xs.max() ?? 10)
        } else if let xDomain {
            xRange = Self.niceRange(xDomain.lower, xDomain.upper)
        } else {
            var range = Self.niceRange(xs.min() ?? 0, xs.max() ?? 1)
            if !scatter && range.lower > 0 && range.lower <= range.upper * 0.5 { range = Self.niceRange(0, range.upper) }
            xRange = range
        }
        let yRange = Self.niceRange(all.map(\.y).min() ?? 0, all.map(\.y).max() ?? 1)
        func scaled(_ x: Double) -> Double { logX ? log10(x) : x }
        func px(_ x: Double) -> Double {
            left + (scaled(x) - scaled(xRange.lower)) / (scaled(xRange.upper) - scaled(xRange.lower)) * plotWidth
        }
        func py(_ y: Double) -> Double { top + plotHeight - (y - yRange.lower) / (yRange.upper - yRange.lower) * plotHeight }
        svg += "<g class=\"axes\" font-size=\"11\">\n"
        for (tick, text) in xTickLabels.map({ $0.map { ($0.x, $0.label) } }) ?? xRange.ticks.map({ ($0, Self.label($0, percent: false)) }) {
            svg += "<line x1=\"\(fmt(px(tick)))\" y1=\"\(fmt(top))\" x2=\"\(fmt(px(tick)))\" y2=\"\(fmt(top + plotHeight))\" stroke=\"#e4e4e4\"/>"
            svg += "<text x=\"\(fmt(px(tick)))\" y=\"\(fmt(top + plotHeight + 14))\" text-anchor=\"middle\">\(HTML.escape(text))</text>\n"
        }
        for tick in yRange.ticks {
            svg += "<line x1=\"\(fmt(left))\" y1=\"\(fmt(py(tick)))\" x2=\"\(fmt(left + plotWidth))\" y2=\"\(fmt(py(tick)))\" stroke=\"#e4e4e4\"/>"
            svg += "<text x=\"\(fmt(left - 6))\" y=\"\(fmt(py(tick) + 4))\" text-anchor=\"end\">\(Self.label(tick, percent: percent))</text>\n"
        }
        if let secondary = secondaryAxis, secondary.primaryPerUnit > 0, !logX {
            svg += "<g class=\"secondary-axis\">"
            for unit in Self.secondaryTicks(upTo: xRange.upper / secondary.primaryPerUnit) {
                let x = px(unit * secondary.primaryPerUnit)
                guard x >= left - 0.5 && x <= left + plotWidth + 0.5 else { continue }
                svg += "<line x1=\"\(fmt(x))\" y1=\"\(fmt(top - 4))\" x2=\"\(fmt(x))\" y2=\"\(fmt(top + plotHeight))\" stroke=\"#bbb\" stroke-dasharray=\"2 3\"/>"
                svg += "<text x=\"\(fmt(x))\" y=\"\(fmt(top - 7))\" text-anchor=\"middle\">\(Self.label(unit, percent: false))</text>"
            }
            svg += "<text x=\"\(fmt(left + plotWidth / 2))\" y=\"\(fmt(top - 22))\" text-anchor=\"middle\">\(HTML.escape(secondary.label))</text></g>\n"
        }
        svg += "<rect x=\"\(fmt(left))\" y=\"\(fmt(top))\" width=\"\(fmt(plotWidth))\" height=\"\(fmt(plotHeight))\" fill=\"none\" stroke=\"#888\"/>\n"
        svg += "<text x=\"\(fmt(left + plotWidth / 2))\" y=\"\(fmt(top + plotHeight + 30))\" text-anchor=\"middle\">\(HTML.escape(xLabel))</text>\n"
        svg += "<text transform=\"translate(14 \(fmt(top + plotHeight / 2))) rotate(-90)\" text-anchor=\"middle\">\(HTML.escape(yLabel))</text>\n"
        svg += "</g>\n"
        for item in series {
            let indices = item.points.indices.filter { usable(item.points[$0]) }
            guard !indices.isEmpty else { continue }
            let points = indices.map { item.points[$0] }
            let dash = item.dashed ? " stroke-dasharray=\"6 4\"" : ""
            if !scatter {
                let coordinates = points.map { "\(fmt(px($0.x))),\(fmt(py($0.y)))" }.joined(separator: " ")
                svg += "<polyline class=\"series\" data-series=\"\(HTML.escape(item.name))\" data-points=\"\(points.count)\" fill=\"none\" "
                    + "stroke=\"\(item.color)\" stroke-width=\"2\"\(dash) points=\"\(coordinates)\"/>\n"
            } else {
                svg += "<g class=\"series\" data-series=\"\(HTML.escape(item.name))\" data-points=\"\(points.count)\">"
            }
            if scatter || points.count <= Self.maximumMarkedPoints {
                for (index, point) in zip(indices, points) {
                    let label = item.pointLabels.indices.contains(index) ? item.pointLabels[index] : item.name
                    svg += "<circle cx=\"\(fmt(px(point.x)))\" cy=\"\(fmt(py(point.y)))\" r=\"\(scatter ? "4" : "2.5")\" fill=\"\(item.color)\">"
                        + "<title>\(HTML.escape(label)): \(Self.label(point.y, percent: percent, precise: true)) at \(Self.label(point.x, percent: false, precise: true))</title></circle>"
                    if scatter && labelPoints {
                        svg += "<text class=\"point-label\" x=\"\(fmt(px(point.x) + 6))\" y=\"\(fmt(py(point.y) - 5))\" font-size=\"10\">\(HTML.escape(label))</text>"
                    }
                }
            }
            svg += scatter ? "</g>\n" : "\n"
        }
        svg += "<g class=\"legend\" font-size=\"12\">\n"
        let columnWidth = (plotWidth + left - 8) / Double(columns)
        for (index, item) in entries.enumerated() {
            let x = 8 + columnWidth * Double(index % columns)
            let y = top + plotHeight + 46 + Self.legendRowHeight * Double(index / columns)
            let dash = item.dashed ? " stroke-dasharray=\"6 4\"" : ""
            if scatter {
                svg += "<circle cx=\"\(fmt(x + 14))\" cy=\"\(fmt(y - 4))\" r=\"4\" fill=\"\(item.color)\"/>"
            } else {
                svg += "<line x1=\"\(fmt(x))\" y1=\"\(fmt(y - 4))\" x2=\"\(fmt(x + 28))\" y2=\"\(fmt(y - 4))\" stroke=\"\(item.color)\" stroke-width=\"2\"\(dash)/>"
            }
            svg += "<text x=\"\(fmt(x + 34))\" y=\"\(fmt(y))\">\(HTML.escape(item.name))</text>\n"
        }
        svg += "</g>\n</svg>"
        return svg
    }

    /// A range enclosing [low, high] with round tick positions (1, 2, 5 × 10ⁿ steps).
    static func niceRange(_ low: Double, _ high: Double) -> (lower: Double, upper: Double, ticks: [Double]) {
        var low = low, high = high
        if high - low < 1e-12 * max(1, abs(high)) {
            let pad = low == 0 ? 1 : abs(low) * 0.5
            low -= pad; high += pad
        }
        let rough = (high - low) / 5
        let magnitude = pow(10, floor(log10(rough)))
        let step = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= rough } ?? 10 * magnitude
        let lower = floor(low / step) * step, upper = ceil(high / step) * step
        let ticks = stride(from: lower, through: upper + step * 0.001, by: step).map { ($0 / step).rounded() * step + 0.0 }
        return (lower, upper, ticks)
    }

    /// Whole decades enclosing [low, high] (both > 0), a tick at each.
    static func logRange(_ low: Double, _ high: Double) -> (lower: Double, upper: Double, ticks: [Double]) {
        let lowExponent = floor(log10(max(low, .leastNormalMagnitude)))
        var highExponent = ceil(log10(max(high, .leastNormalMagnitude)))
        if highExponent <= lowExponent { highExponent = lowExponent + 1 }
        let ticks = stride(from: lowExponent, through: highExponent, by: 1).map { pow(10, $0) }
        return (pow(10, lowExponent), pow(10, highExponent), ticks)
    }

    /// Whole-unit ticks from 0 to `upper` (1, 2, 5 × 10ⁿ apart, at most about ten).
    static func secondaryTicks(upTo upper: Double) -> [Double] {
        guard upper.isFinite, upper > 0 else { return [] }
        let step = [1.0, 2, 5, 10, 20, 50, 100, 200, 500, 1000].first { upper / $0 <= 10 } ?? (upper / 10).rounded(.up)
        return stride(from: 0, through: upper + 1e-9, by: step).map { $0 }
    }

    static func label(_ value: Double, percent: Bool, precise: Bool = false) -> String {
        if percent { return String(format: precise ? "%.2f%%" : "%g%%", value * 100) }
        return precise ? String(format: "%.4g", value) : String(format: "%g", (value * 1e9).rounded() / 1e9)
    }

    private func fmt(_ value: Double) -> String { String(format: "%.1f", value) }
}
