import CNNSpec

/// A dataset that is missing, unreadable or malformed, with what was expected and how to fix it.
/// Its message names the files it is about; it prints as the other user errors do.
public struct DataError: UserFacingError, Sendable {
    public var message: String
    public var hint: String?
    public init(_ message: String, hint: String? = nil) { self.message = message; self.hint = hint }
    public var diagnostics: [Diagnostic] { [Diagnostic(message, at: nil, hint: hint)] }
}
