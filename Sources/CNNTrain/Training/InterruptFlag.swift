import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Set by the first Ctrl-C (SIGINT) or SIGTERM so training can stop cleanly after saving; a second
/// one of either exits at once.
///
/// SIGTERM is what `scancel`, Slurm's time limit and preemption warnings (`--signal=B:TERM@120`),
/// `docker stop`, systemd and `timeout` send: it gets the same save-then-exit as Ctrl-C.
public enum InterruptFlag {
    private static let raised = Atomic<Bool>(false)
    private static let signalNumber = Atomic<Int32>(0)

    /// Installs the SIGINT and SIGTERM handlers, and unblocks both signals: a blocked signal mask is
    /// inherited through fork and exec, so a parent that blocks them (some launchers and test runners do)
    /// would otherwise leave a SIGTERM pending until the run ends on its own.
    ///
    /// `repeatedTermExits: false` (the ranks of a data-parallel run) keeps SIGTERM caught after the first:
    /// a Slurm job's tasks get SIGTERM both from Slurm and from the srun that forwards its own, and a second
    /// one must not kill a rank before it has saved; Slurm's SIGKILL after KillWait remains the hard stop.
    public static func install(repeatedTermExits: Bool = true) {
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGINT)
        sigaddset(&signals, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &signals, nil)
        let handler: @convention(c) (Int32) -> Void = { received in
            InterruptFlag.signalNumber.store(received, ordering: .relaxed)
            InterruptFlag.raised.store(true, ordering: .relaxed)
            signal(SIGINT, SIG_DFL)
            signal(SIGTERM, SIG_DFL)
        }
        let keepingTerm: @convention(c) (Int32) -> Void = { received in
            if !InterruptFlag.raised.load(ordering: .relaxed) { InterruptFlag.signalNumber.store(received, ordering: .relaxed) }
            InterruptFlag.raised.store(true, ordering: .relaxed)
            signal(SIGINT, SIG_DFL)
        }
        for number in [SIGINT, SIGTERM] { signal(number, repeatedTermExits ? handler : keepingTerm) }
    }

    /// True once Ctrl-C was pressed or SIGTERM arrived.
    public static var isRaised: Bool { raised.load(ordering: .relaxed) }

    /// The signal that raised the flag (SIGINT or SIGTERM), or 0.
    public static var receivedSignal: Int32 { signalNumber.load(ordering: .relaxed) }
}
