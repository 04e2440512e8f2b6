import CNNSpec
import Foundation
import Testing
@testable import CNNTrain

@Test func sweepRunsPointsThenResumesOnlyTheUnfinished() throws {
    let fake = try FakeCNNSpec()
    defer { fake.remove() }
    let plan = try fake.plan(rates: ["0.1", "0.5", "0.3"])
    // a leftover folder without resume state must be cleared and restarted
    let stale = plan.folder(of: plan.points[2])
    try FileManager.default.createDirectory(at: stale, withIntermediateDirectories: true)
    try "junk".write(to: stale.appendingPathComponent("metrics.csv"), atomically: true, encoding: .utf8)

    let runner = SweepRunner(plan: plan, executable: fake.executable.path, jobs: 2, threadsPerJob: 3) { _ in }
    let first = try runner.run(shouldStop: { false })
    #expect(first.failures.isEmpty)
    #expect(first.table.rows.map(\.point.id) == ["000-lr0.1", "002-lr0.3", "001-lr0.5"])
    #expect(first.table.rows.map(\.result.status) == [.finished, .finished, .resumable])
    #expect(fake.calls.count == 3)
    #expect(fake.calls.allSatisfy { $0.hasPrefix("run \(plan.spec.basePath) --set train.iterations=10 --set train.optimizer.lr=") })
    #expect(fake.calls.allSatisfy { $0.hasSuffix("--set train.threads=3") })

    let second = try runner.run(shouldStop: { false })
    #expect(fake.calls.count == 4)
    #expect(fake.calls.last == "run --resume \(plan.folder(of: plan.points[1]).path)")
    #expect(second.table.rows.map(\.point.id) == ["000-lr0.1", "002-lr0.3", "001-lr0.5"])
    #expect(second.table.rows.allSatisfy { $0.result.status == .finished })
    let written = try String(contentsOf: plan.folder.appendingPathComponent("results.csv"), encoding: .utf8)
    #expect(written == second.table.csv)

    _ = try runner.run(shouldStop: { false })
    #expect(fake.calls.count == 4, "a finished sweep starts nothing")
}

@Test func interruptingTheSweepForwardsSIGINTAndTheRerunResumes() throws {
    let fake = try FakeCNNSpec()
    defer { fake.remove() }
    let plan = try fake.plan(rates: ["0.7", "0.2"])
    let runner = SweepRunner(plan: plan, executable: fake.executable.path, jobs: 1, threadsPerJob: 1) { _ in }
    var polls = 0
    let outcome = try runner.run(shouldStop: { polls += 1; return polls > 6 })
    #expect(outcome.interrupted)
    #expect(outcome.failures.isEmpty)
    #expect(fake.calls.count == 1, "no new point starts after the interrupt")
    #expect(SweepPointResult(folder: plan.folder(of: plan.points[0])).status == .resumable)
    let resumed = try runner.run(shouldStop: { false })
    #expect(!resumed.interrupted)
    #expect(fake.calls.dropFirst().first == "run --resume \(plan.folder(of: plan.points[0]).path)")
    #expect(resumed.table.rows.map(\.point.id) == ["001-lr0.2", "000-lr0.7"])
}

@Test func failedPointsAreReportedAndRetried() throws {
    let fake = try FakeCNNSpec()
    defer { fake.remove() }
    let plan = try fake.plan(rates: ["0.1"])
    let broken = fake.root.appendingPathComponent("broken")
    try FakeCNNSpec.writeExecutable("#!/bin/bash\necho boom >&2\nexit 1\n", to: broken)
    let failing = try SweepRunner(plan: plan, executable: broken.path, jobs: 1, threadsPerJob: 1) { _ in }
        .run(shouldStop: { false })
    #expect(failing.failures == [0: "exit status 1"])
    #expect(failing.table.rows.first?.result.status == .failed)
    let log = try String(contentsOf: plan.folder(of: plan.points[0]).appendingPathComponent(SweepRunner.logFile), encoding: .utf8)
    #expect(log == "boom\n")
    let retried = try SweepRunner(plan: plan, executable: fake.executable.path, jobs: 1, threadsPerJob: 1) { _ in }
        .run(shouldStop: { false })
    #expect(retried.table.rows.first?.result.status == .finished, "\(retried.failures) \((try? String(contentsOf: plan.folder(of: plan.points[0]).appendingPathComponent(SweepRunner.logFile), encoding: .utf8)) ?? "")")
}

/// A descriptor open (without close-on-exec) in the sweep process, e.g. another thread's half-written
/// file, must not reach a run: the run, and anything it leaves running, would hold it for its whole life.
@Test func runsInheritOnlyStandardInputOutputAndError() throws {
    let fake = try FakeCNNSpec()
    defer { fake.remove() }
    let held = open(fake.root.appendingPathComponent("held").path, O_WRONLY | O_CREAT, 0o644)
    try #require(held > 2)
    defer { close(held) }
    let log = fake.root.appendingPathComponent("fds.log").path
    // the shell's builtin test, so that no listing or child of its own opens descriptors while it looks
    let candidates = (Array(0...64) + [held]).map(String.init).joined(separator: " ")
    let pid = try ChildProcess.spawn("/bin/sh", ["-c", "for n in \(candidates); do if [ -e /proc/$$/fd/$n ]; then echo $n; fi; done"],
                                     logPath: log)
    while ChildProcess.poll(pid) == nil { usleep(1_000) }
    let descriptors = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").compactMap { Int32($0) }
    #expect(descriptors.contains(1) && descriptors.contains(2))
    #expect(!descriptors.contains(held), "descriptors in the child: \(descriptors)")
    #expect(descriptors.allSatisfy { $0 <= 2 }, "descriptors in the child: \(descriptors)")
}

@Test func jobsTimesThreadsNeverExceedsTheCores() {
    for cores in 1...16 {
        for jobs in 1...20 {
            let split = SweepPlan.split(jobs: jobs, cores: cores, points: 6)
            #expect(split.jobs * split.threads <= cores)
            #expect(split.jobs >= 1 && split.threads >= 1 && split.jobs <= 6)
        }
    }
    #expect(SweepPlan.split(jobs: 2, cores: 8, points: 6) == (2, 4))
}
