/// A dataset that is missing, unreadable or malformed, with what was expected and how to fix it.
public struct DataError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var hint: String?
    public init(_ message: String, hint: String? = nil) { self.message = message; self.hint = hint }
    /// `error: message` and an indented hint line, like the spec diagnostics.
    public var description: String {
        "error: " + message + (hint.map { "\n    hint: \($0)" } ?? "")
    }
}
