import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A status line redrawn in place on a terminal, cut to the terminal's width so it never wraps; on
/// anything else (a pipe, a log file, CI) plain lines, at most one per `plainInterval`, and never `\r`.
public final class TerminalLine: @unchecked Sendable {
    public let isTerminal: Bool
    private let descriptor: Int32
    private let plainInterval: Double
    private let lock = NSLock()
    private var lastPlain = -Double.infinity
    private var hasLiveLine = false

    /// `descriptor`: where the line goes (standard output or error); `isTerminal` defaults to `isatty`.
    public init(descriptor: Int32, isTerminal: Bool? = nil, plainInterval: Double = 10) {
        self.descriptor = descriptor
        self.isTerminal = isTerminal ?? (isatty(descriptor) == 1)
        self.plainInterval = plainInterval
    }

    /// Standard error's line: the decoding progress of folder datasets.
    public static let standardError = TerminalLine(descriptor: STDERR_FILENO)

    /// Width assumed when neither the terminal nor `COLUMNS` gives one.
    static let fallbackColumns = 80

    /// The terminal's width: TIOCGWINSZ on `descriptor`, else the `COLUMNS` variable, else 80.
    public static func columns(of descriptor: Int32, environment: [String: String] = ProcessInfo.processInfo.environment) -> Int {
        var size = winsize()
        let status = withUnsafeMutablePointer(to: &size) { ioctl(descriptor, UInt(TIOCGWINSZ), $0) }
        if status == 0, size.ws_col > 0 { return Int(size.ws_col) }
        if let text = environment["COLUMNS"], let columns = Int(text), columns > 0 { return columns }
        return fallbackColumns
    }

    /// `text` cut to fit `columns` without wrapping: at most `columns − 1` characters (a line that fills
    /// the last column makes some terminals wrap), the cut marked with `…`.
    public static func fitted(_ text: String, columns: Int) -> String {
        let room = max(columns - 1, 1)
        guard text.count > room else { return text }
        return room == 1 ? String(text.prefix(1)) : String(text.prefix(room - 1)) + "…"
    }

    /// Shows `text` as the live status: redrawn in place on a terminal (cut to its width); elsewhere a
    /// plain line when `plainInterval` has passed since the last one, or when `force`.
    public func update(_ text: String, force: Bool = false) {
        lock.lock(); defer { lock.unlock() }
        if isTerminal {
            write("\r\u{1B}[2K" + Self.fitted(text, columns: Self.columns(of: descriptor)))
            hasLiveLine = true
        } else {
            let now = ProcessInfo.processInfo.systemUptime
            guard force || now - lastPlain >= plainInterval else { return }
            lastPlain = now
            write(text + "\n")
        }
    }

    /// The width the live line may use (for callers that shorten their own text first).
    public var columns: Int { Self.columns(of: descriptor) }

    /// A permanent line: clears the live status first (on a terminal).
    public func line(_ text: String) {
        lock.lock(); defer { lock.unlock() }
        clearLocked()
        write(text + "\n")
    }

    /// Removes the live status (on a terminal), e.g. before other output.
    public func clear() {
        lock.lock(); defer { lock.unlock() }
        clearLocked()
    }

    private func clearLocked() {
        if hasLiveLine {
            write("\r\u{1B}[2K")
            hasLiveLine = false
        }
    }

    /// Text handed over by a reporter: a status when it ends in `\r` (the convention of `report` callbacks),
    /// a permanent line otherwise (its own newline kept).
    public func report(_ text: String) {
        if text.hasSuffix("\r") {
            update(String(text.dropLast()))
        } else {
            lock.lock(); defer { lock.unlock() }
            clearLocked()
            write(text)
        }
    }

    private func write(_ text: String) {
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
            if written <= 0 { if written < 0 && errno == EINTR { continue }; return }
            offset += written
        }
    }
}
