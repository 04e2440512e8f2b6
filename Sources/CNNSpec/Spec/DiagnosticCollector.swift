/// Gathers every problem found in one file so all of them can be reported at once.
final class DiagnosticCollector {
    /// Most diagnostics kept; a mistake inside a large `repeat` would otherwise be reported once per copy.
    static let maximumCount = 100

    private(set) var diagnostics: [Diagnostic] = []
    private var seen: Set<Diagnostic> = []
    /// True once `maximumCount` diagnostics were recorded; later ones are dropped.
    private(set) var isFull = false

    func error(_ message: String, at location: SourceLocation?, hint: String? = nil) {
        let diagnostic = Diagnostic(message, at: location, hint: hint)
        guard !isFull, seen.insert(diagnostic).inserted else { return }
        if diagnostics.count == Self.maximumCount - 1 {
            isFull = true
            diagnostics.append(Diagnostic("too many errors; stopped after \(Self.maximumCount - 1)", at: nil))
            return
        }
        diagnostics.append(diagnostic)
    }

    /// Keys an unknown key was taken for (`kernal` → `kernel`), by mapping path: a "needs 'kernel'"
    /// error would repeat what the unknown-key error already says, so it is left out.
    private var misspelt: Set<[String]> = []

    /// Records that an unknown key in the mapping at `path` is probably a misspelling of `key`.
    func noteMisspelling(of key: String, in path: String) { misspelt.insert([path, key]) }

    /// Whether `key` of the mapping at `path` was written, misspelt (see `noteMisspelling`).
    func isMisspelt(_ key: String, in path: String) -> Bool { misspelt.contains([path, key]) }

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
