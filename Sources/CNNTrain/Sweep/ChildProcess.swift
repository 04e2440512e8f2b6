import Foundation
import CNNSpec
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Starts and watches the `cnnspec run` processes of a sweep.
///
/// Children get their own process group, so a Ctrl-C at the terminal (or `timeout -s INT`, which signals
/// its whole group) reaches only the sweep, which forwards exactly one SIGINT to each child: a second
/// SIGINT would make a run exit without saving.
enum ChildProcess {
    /// Spawns `executable arguments…` with standard output and error appended to `logPath`.
    static func spawn(_ executable: String, _ arguments: [String], logPath: String) throws(SweepError) -> pid_t {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // own process group; SIGINT at its default even if this process was started with it ignored
        // (e.g. `cnnspec sweep … &` from a script), so that a forwarded SIGINT always reaches the run
        var flags = POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK
        #if canImport(Darwin)
        flags |= POSIX_SPAWN_CLOEXEC_DEFAULT   // only the descriptors named below reach the child
        #endif
        posix_spawnattr_setflags(&attributes, Int16(flags))
        posix_spawnattr_setpgroup(&attributes, 0)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGINT)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var unblocked = sigset_t()
        sigemptyset(&unblocked)
        posix_spawnattr_setsigmask(&attributes, &unblocked)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, logPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        inheritOnlyStandardDescriptors(&actions)
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid: pid_t = 0
        var status = posix_spawn(&pid, executable, &actions, &attributes, argv, environ)
        // A file just written may still be "busy" for the instant between another thread's fork and exec
        // (the fork copied a close-on-exec write handle); it goes away at that exec, so wait it out.
        for _ in 0..<50 where status == ETXTBSY {
            usleep(20_000)
            status = posix_spawn(&pid, executable, &actions, &attributes, argv, environ)
        }
        guard status == 0 else {
            throw SweepError("cannot start '\(executable)': \(String(cString: strerror(status)))")
        }
        return pid
    }

    /// Makes the child start with only standard input, output and error. Without this every descriptor
    /// this process has open without close-on-exec at the moment of the spawn (another thread's half-written
    /// file, a socket) stays open in the child for its whole life, and in whatever it starts in the
    /// background: a write handle kept that way makes the file unexecutable ("Text file busy") for as
    /// long as the child lives.
    private static func inheritOnlyStandardDescriptors(_ actions: inout posix_spawn_file_actions_t) {
        #if canImport(Darwin)
        posix_spawn_file_actions_addinherit_np(&actions, 0)
        #else
        if let closeFrom = closeFromAction {
            _ = closeFrom(&actions, 3)
            return
        }
        // glibc before 2.34: close what is open now (a descriptor opened after this listing may still leak)
        let open = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        for descriptor in open.compactMap({ Int32($0) }) where descriptor > 2 {
            posix_spawn_file_actions_addclose(&actions, descriptor)
        }
        #endif
    }

    #if !canImport(Darwin)
    /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34+), looked up at run time: Swift's Glibc
    /// module does not declare it (it is a GNU extension) and older glibc does not have it.
    private static let closeFromAction: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32)? = {
        guard let symbol = dlsym(dlopen(nil, RTLD_NOW), "posix_spawn_file_actions_addclosefrom_np") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self)
    }()
    #endif

    /// How a child ended, or nil while it runs.
    static func poll(_ pid: pid_t) -> Termination? {
        var status: Int32 = 0
        let result = waitpid(pid, &status, WNOHANG)
        if result == 0 { return nil }
        if result < 0 { return .exited(code: -1) }
        let signal = status & 0x7f
        return signal == 0 ? .exited(code: (status >> 8) & 0xff) : .signalled(signal)
    }

    enum Termination: Equatable {
        case exited(code: Int32)
        case signalled(Int32)
    }

    /// The running executable's path (for starting `cnnspec run` children).
    static var currentExecutable: String {
        if let path = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") { return path }
        let argument = CommandLine.arguments.first ?? "cnnspec"
        return URL(fileURLWithPath: argument).standardizedFileURL.path
    }
}

/// A sweep problem that is not in the sweep file (processes, folders).
public struct SweepError: UserFacingError, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var diagnostics: [Diagnostic] { [Diagnostic(message, at: nil)] }
}
