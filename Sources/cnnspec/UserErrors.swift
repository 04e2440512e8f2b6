import ArgumentParser
import CNNKernels
import CNNSpec
import Foundation

/// Runs a command body; any error from user input is printed as its diagnostics (never a stack trace)
/// and the process exits with status 1.
///
/// Errors are told apart by type: every `UserFacingError` (SpecError, UserError, FileWriteError,
/// MemoryError, TrainingError, SweepError, DataError, CheckpointError) prints its located diagnostics.
/// Anything else (a system error the libraries pass through) prints its text after `error:`.
func reportingUserErrors(_ body: () throws -> Void) throws {
    do {
        if let message = KernelTarget.overrideError { throw UserError(message) }
        try body()
    } catch let exit as ExitCode {
        throw exit
    } catch let error as SpecError {
        printError(error.description)
        throw ExitCode(1)
    } catch let error as any UserFacingError {
        printError(error.diagnostics.map(\.description).joined(separator: "\n"))
        throw ExitCode(1)
    } catch {
        let text = String(describing: error)
        printError(text.hasPrefix("error: ") || text.contains(": error: ") ? text : "error: " + text)
        throw ExitCode(1)
    }
}
