import ArgumentParser
import Foundation

/// Runs a command body; any error from user input is printed as its message (never a stack trace)
/// and the process exits with status 1.
func reportingUserErrors(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let exit as ExitCode {
        throw exit
    } catch {
        var message = String(describing: error)
        if !message.contains("error:") { message = "error: " + message }
        FileHandle.standardError.write(Data((message + "\n").utf8))
        throw ExitCode(1)
    }
}

/// A problem in how the command line combines its inputs (e.g. data that does not fit the model).
struct UsageError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
