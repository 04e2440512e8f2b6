import Foundation

/// Per-class precision, recall and F1 (scikit-learn's `classification_report` definitions) and the
/// confusion matrix of one evaluation, as `cnnspec eval` prints them.
///
/// precision = TP / (TP + FP), recall = TP / (TP + FN), F1 = 2·P·R / (P + R); a ratio with a zero
/// denominator is 0 (scikit-learn's `zero_division=0`). Macro averages weigh classes equally, weighted
/// averages by support (the class's true count).
public struct ClassificationMetrics: Sendable {
    public struct PerClass: Sendable, Equatable {
        public var name: String
        public var precision: Double
        public var recall: Double
        public var f1: Double
        /// Images whose true class this is.
        public var support: Int
    }

    public var classes: [PerClass]
    /// `confusion[true][predicted]`.
    public var confusion: [[Int]]

    public init(confusion: [[Int]], classNames: [String]) {
        self.confusion = confusion
        classes = classNames.indices.map { index in
            let truePositives = confusion[index][index]
            let predicted = confusion.reduce(0) { $0 + $1[index] }
            let support = confusion[index].reduce(0, +)
            let precision = predicted > 0 ? Double(truePositives) / Double(predicted) : 0
            let recall = support > 0 ? Double(truePositives) / Double(support) : 0
            let f1 = precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0
            return PerClass(name: classNames[index], precision: precision, recall: recall, f1: f1, support: support)
        }
    }

    public init(_ predictions: TestPredictions) {
        self.init(confusion: predictions.confusionMatrix, classNames: predictions.classNames)
    }

    public var total: Int { classes.reduce(0) { $0 + $1.support } }

    /// Unweighted mean of precision, recall and F1 over the classes.
    public var macro: (precision: Double, recall: Double, f1: Double) {
        let count = Double(max(classes.count, 1))
        return (classes.reduce(0) { $0 + $1.precision } / count, classes.reduce(0) { $0 + $1.recall } / count,
                classes.reduce(0) { $0 + $1.f1 } / count)
    }

    /// Means weighted by support.
    public var weighted: (precision: Double, recall: Double, f1: Double) {
        let count = Double(max(total, 1))
        func mean(_ value: (PerClass) -> Double) -> Double { classes.reduce(0) { $0 + value($1) * Double($1.support) } / count }
        return (mean(\.precision), mean(\.recall), mean(\.f1))
    }

    /// The per-class table and the averages, as `eval` prints them.
    public var reportText: String {
        let nameWidth = max(12, classes.map(\.name.count).max() ?? 0)
        func row(_ name: String, _ p: Double, _ r: Double, _ f: Double, _ support: Int) -> String {
            name.padding(toLength: nameWidth, withPad: " ", startingAt: 0)
                + String(format: "  %9.4f  %9.4f  %9.4f  %7ld", p, r, f, support)
        }
        var lines = ["class".padding(toLength: nameWidth, withPad: " ", startingAt: 0) + "  precision     recall         f1  support"]
        lines += classes.map { row($0.name, $0.precision, $0.recall, $0.f1, $0.support) }
        let m = macro, w = weighted
        lines.append(row("macro avg", m.precision, m.recall, m.f1, total))
        lines.append(row("weighted avg", w.precision, w.recall, w.f1, total))
        return lines.joined(separator: "\n")
    }

    /// The confusion matrix with true classes as rows and predicted classes as columns, headed by class
    /// indices (a legend maps them to names when a name is longer than its column).
    public var confusionText: String {
        let cellWidth = max(String(confusion.flatMap { $0 }.max() ?? 0).count, String(classes.count - 1).count, 3)
        let corner = "true \\ predicted"
        let nameWidth = max(corner.count, (classes.map { "\($0.name)".count }.max() ?? 0) + String(classes.count).count + 1)
        func cell(_ text: String) -> String { String(repeating: " ", count: max(0, cellWidth - text.count)) + text }
        var lines = [corner.padding(toLength: nameWidth, withPad: " ", startingAt: 0)
                        + classes.indices.map { " " + cell(String($0)) }.joined()]
        for (index, counts) in confusion.enumerated() {
            let label = "\(index) \(classes[index].name)"
            lines.append(label.padding(toLength: nameWidth, withPad: " ", startingAt: 0) + counts.map { " " + cell(String($0)) }.joined())
        }
        return lines.joined(separator: "\n")
    }
}
