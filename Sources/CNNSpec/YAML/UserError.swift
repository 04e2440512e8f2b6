/// An error caused by what the user gave cnnspec (a file, a flag, a key, a folder), as located
/// diagnostics: every command prints its diagnostics and exits with status 1, never a stack trace.
///
/// Errors of every module conform (SpecError, UserError, FileWriteError, MemoryError, TrainingError,
/// SweepError), so the command line decides how to print an error by its type, not by searching its
/// text for "error:".
public protocol UserFacingError: Error, CustomStringConvertible {
    /// What went wrong, where (file:line:column, a file, or `--set key`), and what would be valid.
    var diagnostics: [Diagnostic] { get }
}

extension UserFacingError {
    /// The diagnostics one per line, as printed to standard error.
    public var description: String { diagnostics.map(\.description).joined(separator: "\n") }
}

/// A user-facing problem with no more specific type: one or more diagnostics.
public struct UserError: UserFacingError, Sendable {
    public var diagnostics: [Diagnostic]

    public init(_ diagnostics: [Diagnostic]) { self.diagnostics = diagnostics }

    /// A problem at `location` (nil when it concerns no file, e.g. a flag).
    public init(_ message: String, at location: SourceLocation? = nil, hint: String? = nil) {
        diagnostics = [Diagnostic(message, at: location, hint: hint)]
    }

    /// A problem with a whole file or folder (no line): printed `path: error: message`.
    public init(_ message: String, file: String, hint: String? = nil) {
        diagnostics = [Diagnostic(message, at: SourceLocation(file: file), hint: hint)]
    }
}

extension SpecError: UserFacingError {}
