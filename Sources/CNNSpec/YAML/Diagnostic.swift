/// One problem found in a user's input, with where it is and what would be valid.
public struct Diagnostic: Hashable, Sendable, CustomStringConvertible {
    public var location: SourceLocation?
    public var message: String
    public var hint: String?
    /// A warning: the input is valid but probably not what was meant (it is printed, nothing stops).
    public var isWarning = false

    public init(_ message: String, at location: SourceLocation?, hint: String? = nil) {
        self.location = location
        self.message = message
        self.hint = hint
    }

    /// A problem that does not stop the command, printed `file:line:col: warning: message`.
    public static func warning(_ message: String, at location: SourceLocation?, hint: String? = nil) -> Diagnostic {
        var diagnostic = Diagnostic(message, at: location, hint: hint)
        diagnostic.isWarning = true
        return diagnostic
    }

    /// `file:line:col: error: message` followed by an indented hint line when there is one.
    public var description: String {
        let severity = isWarning ? "warning" : "error"
        var text = location.map { "\($0): \(severity): " } ?? "\(severity): "
        text += message
        if let hint { text += "\n    hint: \(hint)" }
        return text
    }
}

/// All problems found in one input file; thrown by the spec and config loaders.
public struct SpecError: Error, Sendable, CustomStringConvertible {
    public var diagnostics: [Diagnostic]

    public init(_ diagnostics: [Diagnostic]) { self.diagnostics = diagnostics }
    public init(_ diagnostic: Diagnostic) { self.diagnostics = [diagnostic] }

    public var description: String {
        let body = diagnostics.map(\.description).joined(separator: "\n")
        let count = diagnostics.count
        return count > 1 ? body + "\n\(count) errors" : body
    }
}
