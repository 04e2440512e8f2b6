import Foundation

/// A hand-written SVG line chart: axes with ticks, gridlines, one polyline per series, a legend.
public struct SVGLineChart: Sendable {
    public struct Series: Sendable {
        public var name: String
        public var color: String
        public var dashed: Bool
        public var points: [(x: Double, y: Double)]
        public init(name: String, color: String, dashed: Bool = false, points: [(x: Double, y: Double)]) {
            self.name = name; self.color = color; self.dashed = dashed; self.points = points
        }
    }

    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var series: [Series]
    public var width = 390.0
    public var height = 300.0
    /// Format of the y tick labels (e.g. percent for accuracy).
    public var percent = false

    public init(title: String, xLabel: String, yLabel: String, series: [Series], percent: Bool = false) {
        self.title = title; self.xLabel = xLabel; self.yLabel = yLabel; self.series = series; self.percent = percent
    }

    /// The `<svg>` element.
    public func render() -> String {
        let left = 62.0, right = 16.0, top = 30.0
        let legendRows = Double(series.count)
        let bottom = 44.0 + 16 * legendRows
        let fullHeight = height + 16 * legendRows
        let plotWidth = width - left - right, plotHeight = fullHeight - top - bottom
        let all = series.flatMap(\.points).filter { $0.x.isFinite && $0.y.isFinite }
        var svg = "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"\(fmt(width))\" height=\"\(fmt(fullHeight))\" "
            + "viewBox=\"0 0 \(fmt(width)) \(fmt(fullHeight))\" role=\"img\" aria-label=\"\(HTML.escape(title))\">\n"
        svg += "<text x=\"\(fmt(width / 2))\" y=\"18\" text-anchor=\"middle\" class=\"chart-title\">\(HTML.escape(title))</text>\n"
        guard !all.isEmpty else {
            svg += "<text x=\"\(fmt(width / 2))\" y=\"\(fmt(fullHeight / 2))\" text-anchor=\"middle\">no data logged</text>\n</svg>"
            return svg
        }
        var xRange = Self.niceRange(all.map(\.x).min() ?? 0, all.map(\.x).max() ?? 1)
        if xRange.lower > 0 && xRange.lower <= xRange.upper * 0.5 { xRange = Self.niceRange(0, xRange.upper) }
        let yRange = Self.niceRange(all.map(\.y).min() ?? 0, all.map(\.y).max() ?? 1)
        func px(_ x: Double) -> Double { left + (x - xRange.lower) / (xRange.upper - xRange.lower) * plotWidth }
        func py(_ y: Double) -> Double { top + plotHeight - (y - yRange.lower) / (yRange.upper - yRange.lower) * plotHeight }
        svg += "<g class=\"axes\" font-size=\"11\">\n"
        for tick in xRange.ticks {
            svg += "<line x1=\"\(fmt(px(tick)))\" y1=\"\(fmt(top))\" x2=\"\(fmt(px(tick)))\" y2=\"\(fmt(top + plotHeight))\" stroke=\"#e4e4e4\"/>"
            svg += "<text x=\"\(fmt(px(tick)))\" y=\"\(fmt(top + plotHeight + 14))\" text-anchor=\"middle\">\(Self.label(tick, percent: false))</text>\n"
        }
        for tick in yRange.ticks {
            svg += "<line x1=\"\(fmt(left))\" y1=\"\(fmt(py(tick)))\" x2=\"\(fmt(left + plotWidth))\" y2=\"\(fmt(py(tick)))\" stroke=\"#e4e4e4\"/>"
            svg += "<text x=\"\(fmt(left - 6))\" y=\"\(fmt(py(tick) + 4))\" text-anchor=\"end\">\(Self.label(tick, percent: percent))</text>\n"
        }
        svg += "<rect x=\"\(fmt(left))\" y=\"\(fmt(top))\" width=\"\(fmt(plotWidth))\" height=\"\(fmt(plotHeight))\" fill=\"none\" stroke=\"#888\"/>\n"
        svg += "<text x=\"\(fmt(left + plotWidth / 2))\" y=\"\(fmt(top + plotHeight + 30))\" text-anchor=\"middle\">\(HTML.escape(xLabel))</text>\n"
        svg += "<text transform=\"translate(14 \(fmt(top + plotHeight / 2))) rotate(-90)\" text-anchor=\"middle\">\(HTML.escape(yLabel))</text>\n"
        svg += "</g>\n"
        for item in series {
            let points = item.points.filter { $0.x.isFinite && $0.y.isFinite }
            guard !points.isEmpty else { continue }
            let dash = item.dashed ? " stroke-dasharray=\"6 4\"" : ""
            let coordinates = points.map { "\(fmt(px($0.x))),\(fmt(py($0.y)))" }.joined(separator: " ")
            svg += "<polyline class=\"series\" data-series=\"\(HTML.escape(item.name))\" fill=\"none\" stroke=\"\(item.color)\" stroke-width=\"2\"\(dash) points=\"\(coordinates)\"/>\n"
            for point in points {
                svg += "<circle cx=\"\(fmt(px(point.x)))\" cy=\"\(fmt(py(point.y)))\" r=\"2.5\" fill=\"\(item.color)\"><title>\(HTML.escape(item.name)): \(Self.label(point.y, percent: percent, precise: true)) at \(fmt(point.x))</title></circle>"
            }
            svg += "\n"
        }
        svg += "<g class=\"legend\" font-size=\"12\">\n"
        for (index, item) in series.enumerated() {
            let y = top + plotHeight + 46 + 16 * Double(index)
            let dash = item.dashed ? " stroke-dasharray=\"6 4\"" : ""
            svg += "<line x1=\"\(fmt(left))\" y1=\"\(fmt(y - 4))\" x2=\"\(fmt(left + 28))\" y2=\"\(fmt(y - 4))\" stroke=\"\(item.color)\" stroke-width=\"2\"\(dash)/>"
            svg += "<text x=\"\(fmt(left + 34))\" y=\"\(fmt(y))\">\(HTML.escape(item.name))</text>\n"
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

    static func label(_ value: Double, percent: Bool, precise: Bool = false) -> String {
        if percent { return String(format: precise ? "%.2f%%" : "%g%%", value * 100) }
        return precise ? String(format: "%.4g", value) : String(format: "%g", (value * 1e9).rounded() / 1e9)
    }

    private func fmt(_ value: Double) -> String { String(format: "%.1f", value) }
}
