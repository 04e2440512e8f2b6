import CNNSpec
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs a sweep's points as `cnnspec run` child processes, `jobs` at a time, skipping finished points,
/// resuming interrupted ones and restarting the rest from scratch.
public final class SweepRunner {
    public let plan: SweepPlan
    public let executable: String
    public let jobs: Int
    public let threadsPerJob: Int
    private let say: (String) -> Void

    /// How a sweep ended.
    public struct Outcome: Sendable {
        public var interrupted: Bool
        /// Point index → what went wrong.
        public var failures: [Int: String]
        public var table: SweepResultsTable
    }

    /// `executable` is the cnnspec binary (default: this process's own executable).
    public init(plan: SweepPlan, executable: String? = nil, jobs: Int, threadsPerJob: Int, say: @escaping (String) -> Void) {
        self.plan = plan
        self.executable = executable ?? ChildProcess.currentExecutable
        self.jobs = max(1, jobs)
        self.threadsPerJob = max(1, threadsPerJob)
        self.say = say
    }

    private struct Running {
        var point: SweepPoint
        var pid: pid_t
        var started: Date
    }

    /// Runs every unfinished point. When `shouldStop` turns true, sends each running child one SIGINT
    /// (so it saves its state), waits for them and returns with `interrupted` set.
    public func run(shouldStop: () -> Bool) throws(SweepError) -> Outcome {
        let total = plan.points.count
        var queue: [SweepPoint] = []
        for point in plan.points {
            if SweepPointResult(folder: plan.folder(of: point)).status == .finished {
                say("[\(point.index + 1)/\(total)] \(point.id): finished earlier, skipped")
            } else {
                queue.append(point)
            }
        }
        var running: [Running] = []
        var failures: [Int: String] = [:]
        var stopping = false
        while (!queue.isEmpty && !stopping) || !running.isEmpty {
            if !stopping && shouldStop() {
                stopping = true
                say("interrupted: asking \(running.count) running point(s) to save their state…")
                for child in running { kill(child.pid, SIGINT) }
            }
            while !stopping && running.count < jobs && !queue.isEmpty {
                let point = queue.removeFirst()
                do {
                    running.append(Running(point: point, pid: try start(point), started: Date()))
                } catch {
                    failures[point.index] = error.description
                    say("[\(point.index + 1)/\(total)] \(point.id): \(error.description)")
                }
            }
            var finishedAny = false
            running.removeAll { child in
                guard let termination = ChildProcess.poll(child.pid) else { return false }
                finishedAny = true
                finish(child, termination, total: total, stopping: stopping, failures: &failures)
                return true
            }
            if !finishedAny { usleep(50_000) }
        }
        let table = plan.results(failures: failures, relativeTo: URL(fileURLWithPath: FileManager.default.currentDirectoryPath))
        do {
            try plan.writeResults(table)
        } catch {
            throw SweepError("\(error.path): cannot write: \(error.reason)")
        }
        return Outcome(interrupted: stopping, failures: failures, table: table)
    }

    private func start(_ point: SweepPoint) throws(SweepError) -> pid_t {
        let folder = plan.folder(of: point)
        let state = SweepPointResult(folder: folder).status
        let arguments: [String]
        let how: String
        if state == .resumable {
            arguments = ["run", "--resume", folder.path]
            how = "resuming"
        } else {
            if FileManager.default.fileExists(atPath: folder.path) {
                do { try FileManager.default.removeItem(at: folder) } catch {
                    throw SweepError("\(folder.path): cannot clear the unfinished run folder: \(error.localizedDescription)")
                }
            }
            arguments = plan.freshArguments(point, basePath: plan.spec.basePath, folder: folder.path,
                                            threads: String(threadsPerJob))
            how = "starting"
        }
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        } catch {
            throw SweepError("\(folder.path): cannot create the run folder: \(error.localizedDescription)")
        }
        let values = point.assignments.map { "\($0.keyPath)=\($0.value)" }.joined(separator: " ")
        say("[\(point.index + 1)/\(plan.points.count)] \(point.id): \(how) (\(values))")
        return try ChildProcess.spawn(executable, arguments, logPath: folder.appendingPathComponent(Self.logFile).path)
    }

    /// The file in each point folder that collects its `cnnspec run` output.
    public static let logFile = "sweep-output.log"

    private func finish(_ child: Running, _ termination: ChildProcess.Termination, total: Int, stopping: Bool,
                        failures: inout [Int: String]) {
        let point = child.point
        let result = SweepPointResult(folder: plan.folder(of: point))
        let elapsed = String(format: "%.0fs", Date().timeIntervalSince(child.started))
        let prefix = "[\(point.index + 1)/\(total)] \(point.id):"
        if result.status == .finished {
            let accuracy = result.testAccuracy.map { String(format: "test accuracy %.2f %%", $0 * 100) } ?? ""
            say("\(prefix) finished in \(elapsed), \(accuracy)")
        } else if termination == .exited(code: 130) || (stopping && result.status == .resumable) {
            say("\(prefix) interrupted after \(elapsed), state saved")
        } else {
            let how: String
            switch termination {
            case .exited(let code): how = "exit status \(code)"
            case .signalled(let signal): how = "signal \(signal)"
            }
            let log = plan.folder(of: point).appendingPathComponent(Self.logFile).path
            failures[point.index] = how
            say("\(prefix) failed (\(how)); see \(log)")
        }
    }
}
