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

/// Data-parallel points (docs/distributed.md): nodes × tasks per node, srun starts the ranks, and the
/// time-limit SIGTERM goes to the step's tasks rather than the batch shell.
@Test func slurmScriptStartsDataParallelRanksWithSrun() throws {
    let fake = try FakeCNNSpec()
    defer { fake.remove() }
    let plan = try fake.plan(rates: ["0.1", "0.01"])
    let script = SlurmScript.text(plan: plan, executable: "/opt/cnnspec", workingDirectory: fake.root, cpusPerTask: 8,
                                  ranks: SlurmRanks(nodes: 4, tasksPerNode: 2))
    #expect(script.contains("#SBATCH --nodes=4\n#SBATCH --ntasks-per-node=2\n#SBATCH --cpus-per-task=8\n#SBATCH --signal=TERM@120\n"))
    #expect(!script.contains("B:TERM"))
    #expect(script.contains("exec srun --kill-on-bad-exit=1 --cpus-per-task=\"$THREADS\" --mpi=pmix \"$CNNSPEC\" run --resume \"$FOLDER\"; fi\n"))
    #expect(script.contains("exec srun --kill-on-bad-exit=1 --cpus-per-task=\"$THREADS\" --mpi=pmix \"$CNNSPEC\" run base.yaml --overwrite"))
    let clusterDefault = SlurmScript.text(plan: plan, executable: "/opt/cnnspec", workingDirectory: fake.root, cpusPerTask: 8,
                                          ranks: SlurmRanks(nodes: 1, tasksPerNode: 2, mpiPlugin: nil))
    #expect(clusterDefault.contains("exec srun --kill-on-bad-exit=1 --cpus-per-task=\"$THREADS\" \"$CNNSPEC\""))
    #expect(clusterDefault.contains("#SBATCH --nodes=1\n#SBATCH --ntasks-per-node=2\n"))
    #expect(SlurmRanks.check(nodes: 0, tasksPerNode: 1) != nil)
    #expect(SlurmRanks.check(nodes: 2, tasksPerNode: 70_000) != nil)
    #expect(SlurmRanks.check(nodes: 2, tasksPerNode: 4) == nil)
}

/// `cnnspec run CONFIG --emit slurm`: one run's job in its own folder; resubmitted, it resumes.
@Test func runSlurmScriptTrainsOneRunAndResumes() throws {
    let folder = URL(fileURLWithPath: "/data/runs/modelA/x")
    let script = SlurmScript.runText(configPath: "/p/configs/modelA.yaml", overrides: ["train.iterations=200"], name: "modelA",
                                     folder: folder, executable: "/opt/cnnspec", workingDirectory: URL(fileURLWithPath: "/p"),
                                     cpusPerTask: 16, ranks: SlurmRanks(nodes: 8, tasksPerNode: 2))
    #expect(script.contains("#SBATCH --job-name=modelA\n#SBATCH --nodes=8\n#SBATCH --ntasks-per-node=2\n#SBATCH --cpus-per-task=16\n"))
    #expect(script.contains("#SBATCH --output=/data/runs/modelA/x/slurm-%j.out\n"))
    #expect(script.contains("if [ -f \"$FOLDER/resume.safetensors\" ]; then exec srun --kill-on-bad-exit=1"))
    #expect(script.contains("\"$CNNSPEC\" run /p/configs/modelA.yaml --overwrite --set train.iterations=200 \"$@\" --set \"output.dir=$FOLDER\" --set \"train.threads=$THREADS\"\n"))
    #expect(script.contains("run --resume \"$FOLDER\" \"$@\"; fi\n"))
    let single = SlurmScript.runText(configPath: "/p/c.yaml", overrides: [], name: "c", folder: folder, executable: "/opt/cnnspec",
                                     workingDirectory: URL(fileURLWithPath: "/p"), cpusPerTask: 4, ranks: .single)
    #expect(single.contains("#SBATCH --signal=B:TERM@120\n"))
    #expect(!single.contains("srun"))
    #expect(single.contains("exec \"$CNNSPEC\" run /p/c.yaml --overwrite \"$@\" --set \"output.dir=$FOLDER\""))
}
