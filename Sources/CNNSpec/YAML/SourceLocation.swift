/// A position in a user's file, 1-based, used by every diagnostic.
public struct SourceLocation: Hashable, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    /// A whole file or folder, no position in it (line and column 0).
    public init(file: String) { self.init(file: file, line: 0, column: 0) }

    /// `file:line:column`, the form editors and terminals make clickable; just `file` for a whole file.
    public var description: String { line > 0 ? "\(file):\(line):\(column)" : file }
}
