import ArgumentParser
import CNNSpec
import CNNTrain
import Foundation

/// `cnnspec lr-find CONFIG`: the learning-rate range test (`LearningRateFinder`), a table and a chart.
struct LRFindCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lr-find",
        abstract: "Learning-rate range test: train with an exponentially growing rate and suggest one.",
        discussion: """
            Trains the config's model from its initial weights for --steps batches, the rate growing \
            exponentially from --start to --end, and records the loss smoothed by a bias-corrected moving \
            average (β = 0.98); stops when it exceeds 4× its best. The suggestion is fastai's `steep`: the \
            rate where the smoothed loss falls fastest. Nothing is kept but runs/<name>/lr-find-<timestamp>/ \
            with lr_find.csv and lr_find.svg. Try it: cnnspec run CONFIG --set train.optimizer.lr=<suggestion>
            """)

    @Argument(help: "Run config (YAML).")
    var config: String

    @Option(name: .customLong("set"), help: ArgumentHelp("Override a config key.", valueName: "key.path=value"))
    var overrides: [String] = []

    @Option(help: "Learning rate of the first step.")
    var start: Double = 1e-7

    @Option(help: "Learning rate of the last step.")
    var end: Double = 10

    @Option(help: "Number of steps (batches).")
    var steps: Int = 100

    func run() throws {
        try reportingUserErrors {
            let options = LearningRateFinder.Options(start: start, end: end, steps: steps)
            try LearningRateFinder.validate(options)
            let setup = try Experiment(configPath: config, overrides: overrides)
            let data = try setup.loadData()
            print("lr-find \(setup.config.name): \(steps) steps of \(setup.config.train.batchSize) images, "
                + "lr \(start) → \(end) (\(setup.config.train.optimizer.name.rawValue))")
            print("  step            lr        loss    smoothed")
            let result = try LearningRateFinder.run(config: setup.config, graph: setup.graph, data: data, options: options) { index, point in
                print(String(format: "%6d  %12.4g  %10.4f  %10.4f", index, point.learningRate, point.loss, point.smoothedLoss))
            }
            if result.stoppedEarly { print("stopped after \(result.points.count) steps: the smoothed loss exceeded 4× its best") }
            let folder = try LearningRateFinder.write(result, config: setup.config,
                                                      base: URL(fileURLWithPath: FileManager.default.currentDirectoryPath))
            if let rate = result.suggestedLearningRate {
                print(String(format: "suggested lr: %.3g (steepest descent of the smoothed loss)", rate))
            } else {
                print("no suggestion: the smoothed loss never fell; try a wider range (--start, --end) or more --steps")
            }
            for warning in result.warnings { printError("warning: \(warning)") }
            print("chart: \(folder.appendingPathComponent(LearningRateFinder.svgFile).path)")
            print("table: \(folder.appendingPathComponent(LearningRateFinder.csvFile).path)")
        }
    }
}
