import CAllocationCounter
import CNNKernels
import CNNSpec
import Foundation
import Testing
@testable import CNNTrain

/// The commands' work now in the library: `eval` (CheckpointEvaluation), `time` (TimingSession), `run`
/// (TrainingSession), `predict`/`export` plans (ModelSource.makeInferencePlan), `report` and `sweep` rules.
@Suite struct SessionTests {
    /// Saves `plan`'s weights as a checkpoint with `metadata`.
    private func checkpoint(_ plan: ExecutionPlan, metadata: [String: String] = [:], in folder: URL) throws -> URL {
        let url = folder.appendingPathComponent("weights-\(UUID().uuidString).safetensors")
        try CheckpointIO.save(plan.parameters, metadata: metadata, to: url)
        return url
    }

    // MARK: eval

    @Test func evaluationLoadsTheCheckpointAndMatchesAnIndependentPass() throws {
        let project = try SessionTestProject(train: "seed: 3, eval_batch_size: 5")
        defer { project.remove() }
        let experiment = try Experiment(configPath: project.configPath)
        // Weights from another seed, so that loading them (not the seeded initialisation) is what is measured.
        let trained = try ExecutionPlan(graph: experiment.graph, batchCapacity: 5, backend: .fixed(.direct), threads: 1, seed: 77)
        let url = try checkpoint(trained, in: project.folder)
        let evaluation = try CheckpointEvaluation(experiment: experiment, checkpoint: url.path)
        let result = try evaluation.evaluate(.test)
        #expect(result.images == 16)
        let data = try experiment.loadData()
        let reference = Trainer.evaluate(plan: trained, loader: data.testLoader(batchSize: 5, seed: 3, threadPool: trained.pool),
                                         labels: AlignedBuffer<Int32>(count: 5))
        #expect(abs(result.loss - reference.loss) < 1e-5 && result.accuracy == reference.accuracy)
        let seeded = try experiment.makeEvaluationPlan()
        let unloaded = Trainer.evaluate(plan: seeded, loader: data.testLoader(batchSize: 5, seed: 3, threadPool: seeded.pool),
                                        labels: AlignedBuffer<Int32>(count: 5))
        #expect(abs(unloaded.loss - reference.loss) > 1e-4, "the checkpoint's weights, not the seed's, were evaluated")
    }

    @Test func theConfigHashNoteComparesWithTheConfigAndItsOverrides() throws {
        let project = try SessionTestProject()
        defer { project.remove() }
        let experiment = try Experiment(configPath: project.configPath)
        let plan = try experiment.makeEvaluationPlan()
        let same = try checkpoint(plan, metadata: ["config_hash": experiment.config.hash], in: project.folder)
        #expect(try CheckpointEvaluation(experiment: experiment, checkpoint: same.path).configMismatch == nil)
        let unknown = try checkpoint(plan, in: project.folder)
        #expect(try CheckpointEvaluation(experiment: experiment, checkpoint: unknown.path).configMismatch == nil)
        let overridden = try Experiment(configPath: project.configPath, overrides: ["train.optimizer.lr=0.5"])
        #expect(try CheckpointEvaluation(experiment: overridden, checkpoint: same.path).configMismatch?.trainedHash == experiment.config.hash)
    }

    @Test func theValidationSplitNeedsOne() throws {
        let project = try SessionTestProject()
        defer { project.remove() }
        let experiment = try Experiment(configPath: project.configPath)
        let url = try checkpoint(try experiment.makeEvaluationPlan(), in: project.folder)
        let evaluation = try CheckpointEvaluation(experiment: experiment, checkpoint: url.path)
        let text = SessionTestProject.errorText { _ = try evaluation.evaluate(.validation) }
        #expect(text == "\(project.configPath): error: data.validation_split is 0, so there is no validation set")
        let split = try Experiment(configPath: project.configPath, overrides: ["data.validation_split=0.25"])
        #expect(try CheckpointEvaluation(experiment: split, checkpoint: url.path).evaluate(.validation).images == 16)
        #expect(EvaluationSplit.listed == "test or validation")
    }

    @Test func aCheckpointOfAnotherModelIsRefusedNamingTheTensor() throws {
        let project = try SessionTestProject()
        defer { project.remove() }
        let wider = try ModelSpecLoader.load(yaml: SessionTestProject.tinyModel.replacingOccurrences(of: "out: 4, kernel: 3, padding: same, name: conv1",
                                                                                                      with: "out: 6, kernel: 3, padding: same, name: conv1"),
                                             catalog: .standard)
        let url = try checkpoint(try ExecutionPlan(graph: wider, batchCapacity: 1, threads: 1), in: project.folder)
        let text = SessionTestProject.errorText {
            _ = try CheckpointEvaluation(experiment: try Experiment(configPath: project.configPath), checkpoint: url.path)
        }
        #expect(text.contains(url.path) && text.contains("conv1.weight"), "\(text)")
    }

    // MARK: time

    @Test func theTimingSessionStepsWithoutAllocating() throws {
        let project = try SessionTestProject(train: "eval_batch_size: 32, optimizer: {name: adam, lr: 0.001}")
        defer { project.remove() }
        let session = try TimingSession(experiment: try Experiment(configPath: project.configPath))
        #expect(session.plan.batchCapacity == 8, "time measures train.batch_size, not the evaluation batch")
        #expect(session.backendLines.count == 3)
        #expect(session.backendLines.first == "kernels: \(KernelTarget.current) (\(KernelTarget.origin))"
                && session.plan.kernelsLine == session.backendLines.first)
        #expect(session.backendLines.dropFirst().allSatisfy { $0.hasPrefix("backend conv") && $0.contains(": direct/") })
        #expect(session.heading == "tiny: model tiny, batch 8, optimizer adam")
        // threads: 1 runs every task on this thread, so counting this thread's allocations is exact. One
        // allocation while counting shows the counter works here (it reads 0 where it cannot count).
        cnnspec_count_this_thread(1)
        let probe = malloc(16)
        free(probe)
        let report = session.measure(warmup: 2, iterations: 5, allocationCount: { cnnspec_counted_allocation_count() })
        cnnspec_count_this_thread(0)
        #expect(report.allocationsPerStep == 0)
        #expect(report.layers.map(\.name) == session.experiment.graph.nodes.dropFirst().map(\.name))
        #expect(report.batch == 8 && report.threads == 1 && report.trainStepMilliseconds > 0)
    }

    // MARK: run

    /// Opens a fresh session of `project`, trains it and checks what it wrote; returns its run folder
    /// (the session, and with it the folder's lock, is gone when this returns).
    private func trainFresh(_ project: SessionTestProject, reporter: ProgressReporter) throws -> URL {
        guard case .ready(let session) = try TrainingSession.open(.fresh(configPath: project.configPath, overwrite: false),
                                                                   workingDirectory: project.folder, reporter: reporter) else {
            Issue.record("a fresh run opens")
            return project.folder
        }
        #expect(!session.isResumed && session.folder.url.path == project.folder.appendingPathComponent("run").path)
        let resolved = try String(contentsOf: session.folder.file(RunFolder.configFile), encoding: .utf8)
        #expect(try RunConfigLoader.parse(resolved, file: "resolved.yaml").train == session.experiment.config.train)
        let summary = try session.train()
        #expect(summary.iterations == 4 && !summary.interrupted)
        let log = try String(contentsOf: session.folder.file(RunFolder.logFile), encoding: .utf8)
        #expect(log.contains("test: loss ") && log.contains("(16 images, last weights)"))
        #expect(log.contains("training throughput") && log.contains("(1 thread)"))
        #expect(log.hasSuffix("run folder: \(session.folder.url.path)\n"))
        return session.folder.url
    }

    @Test func aFreshSessionWritesTheResolvedConfigTrainsAndSaysTheClosingLines() throws {
        let project = try SessionTestProject()
        defer { project.remove() }
        let reporter = TrainingTestSupport.quiet
        let folder = try trainFresh(project, reporter: reporter)
        // The finished run's folder: --resume has nothing to do, and says so without touching it.
        guard case .finished(let note) = try TrainingSession.open(.resume(folder: folder.path),
                                                                   workingDirectory: project.folder, reporter: reporter) else {
            Issue.record("a finished run is not resumed")
            return
        }
        #expect(note.hasPrefix(folder.path + ": this run finished earlier") && note.hasSuffix("nothing to resume"))
        // A second fresh run into the same output.dir is refused unless --overwrite.
        let again = SessionTestProject.errorText {
            _ = try TrainingSession.open(.fresh(configPath: project.configPath, overwrite: false), workingDirectory: project.folder,
                                         reporter: reporter)
        }
        #expect(again.contains("overwrite"), "\(again)")
        guard case .ready = try TrainingSession.open(.fresh(configPath: project.configPath, overwrite: true),
                                                     workingDirectory: project.folder, reporter: reporter) else {
            Issue.record("--overwrite replaces the run")
            return
        }
    }

    @Test func aFolderWithoutResumeStateIsNotResumable() throws {
        let project = try SessionTestProject()
        defer { project.remove() }
        let empty = project.folder.appendingPathComponent("empty")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        let text = SessionTestProject.errorText {
            _ = try TrainingSession.open(.resume(folder: empty.path), workingDirectory: project.folder,
                                         reporter: TrainingTestSupport.quiet)
        }
        #expect(text.hasPrefix("\(empty.standardizedFileURL.path): error: not a run folder: it holds none of config.yaml"))
    }

    /// A run killed (kill -9) before its first save leaves config.yaml and metrics.csv but no resume state:
    /// a new run into the folder does not offer --resume, and --resume says how to start over.
    @Test func aRunKilledBeforeItsFirstSaveIsStartedOverNotResumed() throws {
        let project = try SessionTestProject()
        defer { project.remove() }
        let run = project.folder.appendingPathComponent("run").standardizedFileURL
        try FileManager.default.createDirectory(at: run, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: project.configPath, toPath: run.appendingPathComponent(RunFolder.configFile).path)
        try "epoch,iteration\n".write(to: run.appendingPathComponent(RunFolder.metricsFile), atomically: true, encoding: .utf8)
        let fresh = SessionTestProject.errorText {
            _ = try TrainingSession.open(.fresh(configPath: project.configPath, overwrite: false), workingDirectory: project.folder,
                                         reporter: TrainingTestSupport.quiet)
        }
        #expect(fresh.contains("no resume state to continue from") && fresh.contains("--overwrite") && !fresh.contains("--resume"))
        let resume = SessionTestProject.errorText {
            _ = try TrainingSession.open(.resume(folder: run.path), workingDirectory: project.folder, reporter: TrainingTestSupport.quiet)
        }
        #expect(resume.hasPrefix("\(run.path): error: nothing to resume: the run saved no resume.safetensors"))
        #expect(resume.contains("hint: start it over with `cnnspec run \(run.path)/config.yaml --set output.dir=\(run.path) --overwrite`"))
    }

    @Test func dataThatDoesNotFitLeavesNoRunFolder() throws {
        let project = try SessionTestProject(model: SessionTestProject.tinyModel.replacingOccurrences(of: "out: 10", with: "out: 3"))
        defer { project.remove() }
        let text = SessionTestProject.errorText {
            _ = try TrainingSession.open(.fresh(configPath: project.configPath, overwrite: false), workingDirectory: project.folder,
                                         reporter: TrainingTestSupport.quiet)
        }
        #expect(text.contains("gives 3 outputs"))
        #expect(!FileManager.default.fileExists(atPath: project.folder.appendingPathComponent("run").path))
    }

    // MARK: predict and export

    @Test func inferencePlansLoadTheCheckpointWithTheConfigsSettings() throws {
        let project = try SessionTestProject(train: "threads: 2, seed: 5")
        defer { project.remove() }
        let experiment = try Experiment(configPath: project.configPath)
        let trained = try ExecutionPlan(graph: experiment.graph, batchCapacity: 1, threads: 1, seed: 99)
        let url = try checkpoint(trained, in: project.folder)
        let weights = { (plan: ExecutionPlan) in CheckpointIO.tensors(of: plan.parameters)["fc1.weight"]?.data ?? [] }
        let withConfig = ModelSource(path: project.configPath, kind: .runConfig, graph: experiment.graph,
                                     modelFile: experiment.config.modelPath, config: experiment.config, checkpoint: url)
        let plan = try withConfig.makeInferencePlan(batchCapacity: 3)
        #expect(plan.batchCapacity == 3 && plan.pool.threadCount == 2 && weights(plan) == weights(trained))
        #expect(plan.backendSelections.allSatisfy { $0.chosen == .direct }, "train.backend: direct is kept")
        // A model file alone: the seed-0 initial weights, auto backends on im2col.
        let alone = ModelSource(path: "model.yaml", graph: experiment.graph, modelFile: "model.yaml")
        let initial = try alone.makeInferencePlan(batchCapacity: 1)
        let seeded = try ExecutionPlan(graph: experiment.graph, batchCapacity: 1, threads: 1, seed: 0)
        #expect(weights(initial) == weights(seeded))
        #expect(initial.backendSelections.allSatisfy { $0.chosen == PlanSettings.evaluationBackend })
    }

    // MARK: report and sweep

    @Test func aReportOfAPathThatIsNoFolderIsRefused() throws {
        let project = try SessionTestProject()
        defer { project.remove() }
        let text = SessionTestProject.errorText { _ = try RunReport.write(paths: [project.configPath], output: nil) }
        #expect(text == "\(project.configPath): error: no such run folder")
    }

    private func sweep(in project: SessionTestProject) throws -> SweepPlan {
        let text = "name: s\nbase: config.yaml\nvary: {train.optimizer.lr: [0.1, 0.2]}\n"
        let spec = try SweepSpecLoader.parse(text, file: project.folder.appendingPathComponent("sweep.yaml").path)
        return SweepPlan(spec: spec, workingDirectory: project.folder)
    }

    @Test func everySweepPointIsCheckedLikeARun() throws {
        let good = try SessionTestProject(train: "threads: 3")
        defer { good.remove() }
        let configs = try sweep(in: good).checkEveryPoint()
        #expect(configs.map(\.train.optimizer.learningRate) == [0.1, 0.2])
        #expect(SweepPlan.cpusPerTask(requested: nil, configs: configs) == 3)
        #expect(SweepPlan.cpusPerTask(requested: 5, configs: configs) == 5)
        #expect(SweepPlan.cpusPerTask(requested: nil, configs: []) == SweepPlan.defaultCPUsPerTask)
        let bad = try SessionTestProject(train: "layer_backends: {cnv1: direct}")
        defer { bad.remove() }
        let text = SessionTestProject.errorText { _ = try sweep(in: bad).checkEveryPoint() }
        #expect(text.contains("'cnv1' is not a convolution layer of tiny"), "\(text)")
        #expect(text.contains("2 of 2 points do not load"))
    }

    @Test func collectingASweepThatNeverRanSaysSo() throws {
        let project = try SessionTestProject()
        defer { project.remove() }
        let plan = try sweep(in: project)
        let text = SessionTestProject.errorText { _ = try plan.collectedResults(relativeTo: project.folder) }
        #expect(text.contains("none of the 2 points of sweep 's' has a run folder"), "\(text)")
        let missing = SessionTestProject.errorText { _ = try SweepPlan.locateWorkingDirectory(plan.spec, from: project.folder) }
        #expect(missing.contains("no sweep folder runs/sweeps/s"), "\(missing)")
        try FileManager.default.createDirectory(at: project.folder.appendingPathComponent("runs/sweeps/s"), withIntermediateDirectories: true)
        let elsewhere = TrainingTestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: elsewhere) }
        #expect(try SweepPlan.locateWorkingDirectory(plan.spec, from: elsewhere).standardizedFileURL.path
            == project.folder.standardizedFileURL.path, "found above the sweep file")
    }
}
