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

    @Option(help: "Timed iterations after warm-up.")
    var iterations: Int = 30

    @Option(help: "Warm-up iterations.")
    var warmup: Int = 5

    @Option(name: .customLong("input"), help: "Time the model at another input size, as channels,height,width (e.g. 3,32,32).")
    var input: String?

    func validate() throws {
        guard (1...TimingSession.largestIterations).contains(iterations) else {
            throw ValidationError("--iterations must be in 1...\(TimingSession.largestIterations)")
        }
        guard (0...TimingSession.largestIterations).contains(warmup) else {
            throw ValidationError("--warmup must be in 0...\(TimingSession.largestIterations)")
        }
    }

    func run() throws {
        try reportingUserErrors {
            let inputOverride = try input.map { text throws(SpecError) in try ModelSpecLoader.parseInputShape(text) }
            let session = try TimingSession(experiment: Experiment(configPath: config, overrides: overrides, input: inputOverride))
            session.backendLines.forEach { print($0) }
            let report = session.measure(warmup: warmup, iterations: iterations, allocationCount: { cnnspec_allocation_count() })
            print(session.heading)
            print(report.render())
        }
    }
}
