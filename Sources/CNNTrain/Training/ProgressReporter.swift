import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Shows training progress: a live bar redrawn in place on a terminal and cut to its width (a narrow
/// terminal gets a shorter bar, then none, then a cut line), plain periodic lines otherwise (CI, logs),
/// which never contain `\r`.
public final class ProgressReporter {
    public let isTerminal: Bool
    private let output: TerminalLine
    private let plainInterval: Double
    private var lastDraw: Double = 0
    private var lastPlain: Double = 0
    /// Fixed columns, for tests; nil asks the terminal at every draw (it may be resized).
    private let fixedColumns: Int?

    /// Widest and narrowest progress bar, in characters.
    static let barWidth = 28
    static let narrowestBar = 8

    /// `plainInterval`: seconds between plain lines when output is not a terminal.
    /// Prints nothing: the ranks other than 0 of a data-parallel run (rank 0 speaks for the run).
    public let isSilent: Bool

    public init(isTerminal: Bool = isatty(STDOUT_FILENO) == 1, plainInterval: Double = 10, columns: Int? = nil,
                silent: Bool = false) {
        self.isTerminal = isTerminal
        self.plainInterval = plainInterval
        fixedColumns = columns
        isSilent = silent
        output = TerminalLine(descriptor: STDOUT_FILENO, isTerminal: isTerminal, plainInterval: 0)
    }

    /// Current progress within an epoch; cheap to call every step (draws at most ~10 times a second).
    public func update(epoch: Int, epochs: Int, step: Int, steps: Int, imagesPerSecond: Double,
                       runningLoss: Double, runningAccuracy: Double, etaSeconds: Double) {
        guard !isSilent else { return }
        let now = ProcessInfo.processInfo.systemUptime
        let isDue = isTerminal ? now - lastDraw >= 0.1 || step == steps : now - lastPlain >= plainInterval
        guard isDue else { return }
        let status = String(format: "loss %.4f  acc %5.2f%%  %6.0f img/s  ETA %@", runningLoss, runningAccuracy * 100,
                            imagesPerSecond, Self.duration(etaSeconds))
        if isTerminal {
            lastDraw = now
            output.update(Self.liveText(epoch: epoch, epochs: epochs, step: step, steps: steps, status: status,
                                        columns: fixedColumns ?? output.columns))
        } else {
            lastPlain = now
            output.update("  epoch \(epoch)/\(epochs) step \(step)/\(steps)  \(status)", force: true)
        }
    }

    /// The live line for a terminal of `columns`: the full bar when it fits, a shorter bar, no bar, then
    /// the text cut (`TerminalLine.fitted`), so it never wraps.
    static func liveText(epoch: Int, epochs: Int, step: Int, steps: Int, status: String, columns: Int) -> String {
        let head = "epoch \(epoch)/\(epochs) "
        let tail = " \(step)/\(steps)  \(status)"
        let room = columns - 1 - head.count - tail.count
        if room >= narrowestBar {
            let width = min(barWidth, room)
            let filled = steps > 0 ? min(width, width * step / steps) : 0
            let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
            return head + bar + tail
        }
        return TerminalLine.fitted("epoch \(epoch)/\(epochs) \(step)/\(steps)  \(status)", columns: columns)
    }

    /// Prints a permanent line (per-epoch summary, messages), clearing a live bar first.
    public func line(_ text: String) {
        guard !isSilent else { return }
        output.line(text)
    }

    /// `1h02m`, `3m05s` or `12s`.
    public static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "--" }
        let total = Int(seconds.rounded())
        if total >= 3600 { return String(format: "%dh%02dm", total / 3600, total % 3600 / 60) }
        if total >= 60 { return String(format: "%dm%02ds", total / 60, total % 60) }
        return "\(total)s"
    }
}

/// Counted nouns for messages: "1 epoch", "2 epochs", "1 thread".
public enum English {
    /// `count` and the noun, plural unless `count` is 1 (`plural` defaults to the noun + "s").
    public static func count(_ count: Int, _ singular: String, _ plural: String? = nil) -> String {
        "\(count) " + (count == 1 ? singular : plural ?? singular + "s")
    }
}
