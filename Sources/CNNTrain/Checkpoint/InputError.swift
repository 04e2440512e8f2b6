import Foundation

/// A path or combination of inputs a command cannot use, with what would be valid instead:
/// `PATH: error: message` and an optional `    hint: …` line, as cnnspec's other errors.
/// (`cnnspec export` and `predict` throw it, through `ModelSource`.)
public struct InputError: Error, Sendable, CustomStringConvertible {
    /// The file or folder the problem is about, if any.
    public var path: String?
    public var message: String
    public var hint: String?
    public init(_ message: String, path: String? = nil, hint: String? = nil) { self.path = path; self.message = message; self.hint = hint }
    public var description: String {
        (path.map { "\($0): " } ?? "") + "error: " + message + (hint.map { "\n    hint: \($0)" } ?? "")
    }
}
