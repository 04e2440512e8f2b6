import Foundation

/// Turns a sweep spec into its list of points: every combination (grid) or `samples` seeded draws (random).
public enum SweepExpansion {
    public static func points(of spec: SweepSpec) -> [SweepPoint] {
        let rows: [[String]]
        switch spec.mode {
        case .grid: rows = grid(spec.parameters.map(gridValues))
        case .random: rows = random(spec.parameters.map(\.domain), count: spec.samples, seed: spec.seed)
        }
        let width = max(3, String(max(rows.count - 1, 0)).count)
        return rows.enumerated().map { index, values in
            let assignments = zip(spec.parameters, values).map { SweepPoint.Assignment(keyPath: $0.keyPath, value: $1) }
            let number = String(repeating: "0", count: max(0, width - String(index).count)) + String(index)
            let slug = slug(of: assignments)
            return SweepPoint(index: index, assignments: assignments, id: slug.isEmpty ? number : number + "-" + slug)
        }
    }

    private static func gridValues(_ parameter: SweepParameter) -> [String] {
        if case .values(let values) = parameter.domain { return values }
        return []  // invariant: the loader only allows ranges in random mode
    }

    /// The cartesian product, last axis fastest.
    static func grid(_ axes: [[String]]) -> [[String]] {
        axes.reduce([[]]) { partial, axis in partial.flatMap { prefix in axis.map { prefix + [$0] } } }
    }

    static func random(_ domains: [SweepDomain], count: Int, seed: UInt64) -> [[String]] {
        var generator = SplitMix64(seed: seed)
        return (0..<count).map { _ in
            domains.map { domain in
                switch domain {
                case .values(let values): return values[generator.index(below: values.count)]
                case .uniform(let range):
                    return format(range.lowerBound + (range.upperBound - range.lowerBound) * generator.nextUnit())
                case .logUniform(let range):
                    let low = Foundation.log(range.lowerBound), high = Foundation.log(range.upperBound)
                    return format(exp(low + (high - low) * generator.nextUnit()))
                }
            }
        }
    }

    /// Four significant digits: enough to tell points apart, short enough for a table.
    static func format(_ value: Double) -> String { String(format: "%.4g", value) }

    /// `lr0.01-modelB`: the last key component (shortened) and the value (a path's file name), filename-safe.
    static func slug(of assignments: [SweepPoint.Assignment]) -> String {
        let parts = assignments.map { assignment -> String in
            let key = assignment.keyPath.split(separator: ".").last.map(String.init) ?? assignment.keyPath
            var value = assignment.value.trimmingCharacters(in: CharacterSet(charactersIn: "'\""))
            if value.contains("/") || value.hasSuffix(".yaml") {
                value = URL(fileURLWithPath: value).deletingPathExtension().lastPathComponent
                return sanitize(value)
            }
            let shortKey = key == "batch_size" ? "bs" : key
            return sanitize(shortKey + value)
        }
        let joined = parts.joined(separator: "-")
        return String(joined.prefix(60))
    }

    private static func sanitize(_ text: String) -> String {
        String(text.map { $0.isLetter || $0.isNumber || $0 == "." || $0 == "_" || $0 == "+" || $0 == "-" ? $0 : "_" })
    }
}
