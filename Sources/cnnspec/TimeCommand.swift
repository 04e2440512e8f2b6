import ArgumentParser
import CAllocationCounter
import CNNSpec
import CNNTrain
import Foundation

/// `cnnspec time CONFIG`: per-layer and whole-step timings, in the spirit of `caffe time`.
struct TimeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "time",
        abstract: "Time a config's model: per-layer forward/backward ms, images/s, allocations per step.",
        discussion: "Runs on random data of the model's input shape with the config's batch size, threads and backend.")

    @Argument(help: "Run config (YAML).")
    var config: String

    @Option(name: .customLong("set"), help: ArgumentHelp("Override a config key.", valueName: "key.path=value"))
    var overrides: [String] = []

    /// Bound of --iterations and --warmup: timing needs tens of steps, a million is already hours.
    static let largestIterations = 1_000_000

    @Option(help: "Timed iterations after warm-up.")
    var iterations: Int = 30

    @Option(help: "Warm-up iterations.")
    var warmup: Int = 5

    @Option(name: .customLong("input"), help: "Time the model at another input size, as channels,height,width (e.g. 3,32,32).")
    var input: String?

    func validate() throws {
        guard (1...Self.largestIterations).contains(iterations) else {
            throw ValidationError("--iterations must be in 1...\(Self.largestIterations)")
        }
        guard (0...Self.largestIterations).contains(warmup) else {
            throw ValidationError("--warmup must be in 0...\(Self.largestIterations)")
        }
    }

    func run() throws {
        try reportingUserErrors {
            let inputOverride = try input.map { text throws(SpecError) in try ModelSpecLoader.parseInputShape(text) }
            let setup = try RunSetup(configPath: config, overrides: overrides, input: inputOverride)
            let train = setup.config.train
            let plan = try ExecutionPlan(
                graph: setup.graph, batchCapacity: train.batchSize, backend: train.backend,
                perLayerBackends: Dictionary(train.layerBackends.map { ($0.layer, $0.backend) },
                                             uniquingKeysWith: { _, last in last }),
                threads: train.threads, seed: UInt64(truncatingIfNeeded: train.seed), fuse: train.fuse,
                                 frozenLayers: train.freeze)
            for selection in plan.backendSelections { print("backend " + selection.summary) }
            let optimizer = Optimizer(settings: OptimizerSettings(train.optimizer), parameters: plan.parameters)
            let report = StepTimer.measure(plan: plan, optimizer: optimizer, batch: train.batchSize, warmup: warmup,
                                           iterations: iterations, allocationCount: { cnnspec_allocation_count() })
            print("\(setup.config.name): model \(setup.graph.name), batch \(train.batchSize), optimizer \(train.optimizer.name.rawValue)")
            print(report.render())
        }
    }
}
