import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Set by the first Ctrl-C (SIGINT) so training can stop cleanly after saving; a second Ctrl-C exits at once.
public enum InterruptFlag {
    private static let raised = Atomic<Bool>(false)

    /// Installs the SIGINT handler.
    public static func install() {
        signal(SIGINT) { _ in
            InterruptFlag.raised.store(true, ordering: .relaxed)
            signal(SIGINT, SIG_DFL)
        }
    }

    /// True once Ctrl-C was pressed.
    public static var isRaised: Bool { raised.load(ordering: .relaxed) }
}
