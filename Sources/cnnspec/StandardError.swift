import Foundation

/// Writes one line to standard error (diagnostics never go to standard output).
func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}
