import CNNSpec
import Foundation
import Testing
@testable import CNNTrain

@Test func slurmScriptHasOneArrayTaskPerPoint() throws {
    let fake = try FakeCNNSpec()
    defer { fake.remove() }
    let plan = try fake.plan(rates: ["0.1", "0.01", "0.001"])
    let script = SlurmScript.text(plan: plan, executable: "/opt/cnnspec", workingDirectory: fake.root, cpusPerTask: 4)
    #expect(script.hasPrefix("#!/bin/bash\n"))
    #expect(script.contains("#SBATCH --array=0-2\n"))
    #expect(script.contains("#SBATCH --cpus-per-task=4\n"))
    #expect(script.contains("CNNSPEC=\"${CNNSPEC:-/opt/cnnspec}\"\n"))
    #expect(script.contains("  1) FOLDER=runs/sweeps/t/001-lr0.01; set -- --set train.iterations=10 --set train.optimizer.lr=0.01 ;;\n"))
    #expect(script.contains("exec \"$CNNSPEC\" run base.yaml --overwrite \"$@\" --set \"output.dir=$FOLDER\" --set \"train.threads=$THREADS\"\n"))
    #expect(script.contains("#SBATCH --chdir=\(fake.root.standardizedFileURL.path)\n"))
    #expect(script.contains("#SBATCH --output=\(plan.folder.path)/slurm-%A_%a.out\n"))
    #expect(script.contains("#SBATCH --signal=B:TERM@120\n"))
    #expect(!script.contains("--requeue"))
    let extra = SlurmScript.text(plan: plan, executable: "/opt/cnnspec", workingDirectory: fake.root, cpusPerTask: 4,
                                 options: [SlurmOption(key: "partition", value: "cpu"), SlurmOption(key: "exclusive", value: "")],
                                 requeue: true)
    #expect(extra.contains("#SBATCH --requeue\n#SBATCH --open-mode=append\n#SBATCH --partition=cpu\n#SBATCH --exclusive\n"))
}

@Test func slurmQuotingSurvivesSpacesAndQuotes() {
    #expect(SlurmScript.quote("train.optimizer.lr=0.1") == "train.optimizer.lr=0.1")
    #expect(SlurmScript.quote("data.train_transforms=[resize: 32, scale]") == "'data.train_transforms=[resize: 32, scale]'")
    #expect(SlurmScript.quote("name='it''s'") == "'name='\\''it'\\'''\\''s'\\'''")
}

/// Runs the emitted script task by task as Slurm would (SLURM_ARRAY_TASK_ID set), with the fake cnnspec.
@Test func slurmTasksRunLocallyAndResumeOrSkip() throws {
    let fake = try FakeCNNSpec()
    defer { fake.remove() }
    let plan = try fake.plan(rates: ["0.1", "0.5", "0.2"])
    let scriptURL = fake.root.appendingPathComponent("slurm.sh")
    try SlurmScript.text(plan: plan, executable: fake.executable.path, workingDirectory: fake.root, cpusPerTask: 2)
        .write(to: scriptURL, atomically: true, encoding: .utf8)
    func task(_ id: String) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [scriptURL.path]
        var environment = ProcessInfo.processInfo.environment
        environment["SLURM_ARRAY_TASK_ID"] = id
        environment.removeValue(forKey: "SLURM_CPUS_PER_TASK")
        process.environment = environment
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }
    #expect(try task("0") == 0)
    #expect(try task("1") == 130)   // the fake is "interrupted" on its first run at lr 0.5
    #expect(try task("2") == 0)
    #expect(fake.calls == plan.points.map { point in
        "run base.yaml --overwrite --set train.iterations=10 --set train.optimizer.lr=\(point.assignments[0].value) "
            + "--set output.dir=runs/sweeps/t/\(point.id) --set train.threads=2"
    })
    #expect(try task("1") == 0)     // resumes
    #expect(fake.calls.last == "run --resume runs/sweeps/t/001-lr0.5")
    #expect(try task("0") == 0)     // finished: nothing runs
    #expect(fake.calls.count == 4)
    #expect(try task("3") == 2)
    let table = plan.results()
    #expect(table.rows.allSatisfy { $0.result.status == .finished })
    #expect(table.rows.map(\.point.index) == [0, 2, 1])
}
