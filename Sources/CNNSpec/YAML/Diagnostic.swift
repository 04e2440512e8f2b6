/// One problem found in a user's input, with where it is and what would be valid.
public struct Diagnostic: Hashable, Sendable, CustomStringConvertible {
    public var location: SourceLocation?
    public var message: String
    public var hint: String?

    public init(_ message: String, at location: SourceLocation?, hint: String? = nil) {
        self.location = location
        self.message = message
        self.hint = hint
    }

    /// `file:line:col: error: message` followed by an indented hint line when there is one.
    public var description: String {
        var text = location.map { "\($0): error: " } ?? "error: "
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
