/// Gathers every problem found in one file so all of them can be reported at once.
final class DiagnosticCollector {
    private(set) var diagnostics: [Diagnostic] = []

    func error(_ message: String, at location: SourceLocation?, hint: String? = nil) {
        diagnostics.append(Diagnostic(message, at: location, hint: hint))
    }

    var isEmpty: Bool { diagnostics.isEmpty }

    /// Throws the collected diagnostics, sorted by position, if there are any.
    func throwIfAny() throws(SpecError) {
        guard !diagnostics.isEmpty else { return }
        throw SpecError(sortedDiagnostics)
    }

    var sortedDiagnostics: [Diagnostic] {
        diagnostics.enumerated().sorted { a, b in
            let la = a.element.location, lb = b.element.location
            let ka = (la?.line ?? Int.max, la?.column ?? Int.max, a.offset)
            let kb = (lb?.line ?? Int.max, lb?.column ?? Int.max, b.offset)
            return ka < kb
        }.map(\.element)
    }
}
