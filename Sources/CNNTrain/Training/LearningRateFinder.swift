import CNNKernels
import CNNSpec
import Foundation

/// The learning-rate range test (Leslie Smith; fastai's `lr_find`): train from the config's initial
/// weights with the rate growing exponentially from `start` to `end`, one batch per step, and record
/// the loss smoothed by an exponential moving average with bias correction. It stops early once the
/// smoothed loss exceeds `divergenceFactor` × its best (the rate has become far too large).
///
/// The suggestion is fastai's `steep`: the rate where the smoothed loss falls fastest against log(lr),
/// i.e. the start of the steepest descending interval, skipping the first tenth of the steps (the
/// average is still settling there) and the last `skipEnd` points (where it blows up) — a rate where
/// training makes the quickest progress, usually an order of magnitude below where the loss explodes.
/// A throwaway run: nothing it changes is kept, and it writes only the files the caller asks for.
public struct LearningRateFinder {
    public struct Options: Sendable, Equatable {
        public var start: Double
        public var end: Double
        public var steps: Int
        public init(start: Double = 1e-7, end: Double = 10, steps: Int = 100) {
            self.start = start; self.end = end; self.steps = steps
        }
    }

    /// One step of the test.
    public struct Point: Sendable, Equatable {
        public var learningRate: Double
        public var loss: Double
        public var smoothedLoss: Double
    }

    public struct Result: Sendable {
        public var points: [Point]
        /// Index into `points` of the suggested rate, nil when the curve never descends.
        public var suggestionIndex: Int?
        /// True when the smoothed loss blew past `divergenceFactor` × its best before the last step.
        public var stoppedEarly: Bool
        public var suggestedLearningRate: Double? { suggestionIndex.map { points[$0].learningRate } }

        /// Why the suggestion should not be trusted as it is: too few points to choose from, or a
        /// curve that never reached its minimum. Empty when the curve is usable.
        public var warnings: [String] {
            var found: [String] = []
            let candidates = max(0, points.count - points.count / 10 - LearningRateFinder.skipEnd)
            if candidates < LearningRateFinder.smoothingSpan {
                found.append("only \(candidates) points to choose a rate from (of \(points.count) steps, the first tenth and "
                    + "the last \(LearningRateFinder.skipEnd) are skipped); the smoothed loss averages about "
                    + "\(LearningRateFinder.smoothingSpan) steps, so it lags the rate and the suggestion is too small: "
                    + "use --steps 100 or more")
            }
            let finite = points.indices.filter { points[$0].smoothedLoss.isFinite }
            if !stoppedEarly, let lowest = finite.min(by: { points[$0].smoothedLoss < points[$1].smoothedLoss }),
               lowest >= points.count - LearningRateFinder.skipEnd {
                found.append(String(format: "the smoothed loss was still falling at the last step (lr %.3g): the curve never "
                    + "reached its minimum, so the suggestion is probably too small; raise --end or --steps", points[lowest].learningRate))
            }
            return found
        }
    }

    /// fastai's smoothing constant of the loss average.
    public static let smoothing = 0.98
    /// fastai stops when the smoothed loss exceeds this multiple of the best smoothed loss.
    public static let divergenceFactor = 4.0
    /// Steps the smoothed loss averages over, 1/(1 − smoothing): its lag behind the rate.
    public static let smoothingSpan = Int((1 / (1 - smoothing)).rounded())
    /// fastai's `lr_find` drops this many points at the end before suggesting.
    public static let skipEnd = 5

    /// The rate of 0-based `step` of `steps`: start·(end/start)^(step/(steps−1)).
    public static func learningRate(step: Int, options: Options) -> Double {
        guard options.steps > 1 else { return options.start }
        return options.start * pow(options.end / options.start, Double(step) / Double(options.steps - 1))
    }

    /// Checks the options; the message names the flag.
    public static func validate(_ options: Options) throws(LearningRateFinderError) {
        guard options.start > 0, options.start.isFinite else { throw LearningRateFinderError("--start must be a positive number, not \(options.start)") }
        guard options.end > options.start, options.end.isFinite else {
            throw LearningRateFinderError("--end (\(options.end)) must be larger than --start (\(options.start))")
        }
        guard (minimumSteps...maximumSteps).contains(options.steps) else {
            throw LearningRateFinderError("--steps must lie in \(minimumSteps)…\(maximumSteps), not \(options.steps)")
        }
    }

    /// Fewer steps leave nothing after fastai's skipped first tenth and last five points.
    public static let minimumSteps = 20
    /// A range test longer than this is a training run; use `cnnspec run`.
    public static let maximumSteps = 100_000

    /// The suggestion for a recorded curve (fastai's `steep` on the smoothed losses).
    public static func suggestion(_ points: [Point]) -> Int? {
        let first = points.count / 10, last = points.count - skipEnd
        guard last - first >= 2 else { return nil }
        var best: (index: Int, slope: Double)?
        for index in first..<(last - 1) {
            let a = points[index], b = points[index + 1]
            guard a.smoothedLoss.isFinite, b.smoothedLoss.isFinite else { break }
            let slope = (b.smoothedLoss - a.smoothedLoss) / (log(b.learningRate) - log(a.learningRate))
            if slope < (best?.slope ?? 0) { best = (index, slope) }
        }
        return best?.index
    }

    /// Runs the test: `step(learningRate)` trains one batch at that rate and returns its loss.
    /// `progress` sees every point as it is recorded.
    public static func run(options: Options, step: (Double) -> Double, progress: (Int, Point) -> Void = { _, _ in }) -> Result {
        var points: [Point] = []
        var average = 0.0, best = Double.infinity
        var stoppedEarly = false
        for index in 0..<options.steps {
            let rate = learningRate(step: index, options: options)
            let loss = step(rate)
            average = smoothing * average + (1 - smoothing) * loss
            let smoothed = average / (1 - pow(smoothing, Double(index + 1)))
            let point = Point(learningRate: rate, loss: loss, smoothedLoss: smoothed)
            points.append(point)
            progress(index, point)
            if !smoothed.isFinite || (index > 0 && smoothed > divergenceFactor * best) {
                stoppedEarly = index < options.steps - 1
                break
            }
            best = min(best, smoothed)
        }
        return Result(points: points, suggestionIndex: suggestion(points), stoppedEarly: stoppedEarly)
    }

    /// Runs the test on `config`'s model, data and recipe (optimizer, momentum, label smoothing, clipping,
    /// frozen layers, `train.init`), from the seeded initial weights; the schedule is replaced by the ramp.
    public static func run(config: RunConfig, graph: ModelGraph, data: TrainingData, options: Options,
                           progress: (Int, Point) -> Void = { _, _ in }) throws -> Result {
        try validate(options)
        let train = config.train
        let plan = try PlanSettings.training(train, alsoEvaluates: false).makePlan(for: graph)
        let update = try ParameterUpdate(train: train, plan: plan)
        if let initialization = train.initialization {
            _ = try InitialWeightsLoader.load(initialization, into: plan.parameters)
            plan.parametersDidChange()
        }
        let loader = data.trainLoader(batchSize: train.batchSize, seed: train.seed, threadPool: plan.pool)
        guard loader.batchCount > 0 else { throw LearningRateFinderError("the training set is empty") }
        let labels = AlignedBuffer<Int32>(count: train.batchSize)
        var iteration = 0
        return run(options: options, step: { rate in
            let batch = iteration % loader.batchCount
            if batch == 0 { loader.startEpoch(iteration / loader.batchCount) }
            iteration += 1
            let count = loader.fill(batch: batch, images: plan.input, labels: labels.pointer)
            let (loss, _) = plan.trainStep(batch: count, labels: labels.pointer)
            guard loss.isFinite else { return Double(loss) }
            update.step(learningRate: rate)
            return Double(loss)
        }, progress: progress)
    }

    /// `lr_find.csv`: step, learning rate, loss, smoothed loss.
    public static func csv(_ result: Result) -> String {
        var text = "step,learning_rate,loss,smoothed_loss\n"
        for (index, point) in result.points.enumerated() {
            text += "\(index),\(point.learningRate),\(point.loss),\(point.smoothedLoss)\n"
        }
        return text
    }

    /// `lr_find.svg`: smoothed and raw loss against log₁₀ of the rate, the suggestion as a dashed line.
    /// Raw losses above `divergenceFactor` × the best smoothed loss are left out, so that a few exploded
    /// batches do not flatten the curve that matters.
    public static func chart(_ result: Result, title: String) -> String {
        let ceiling = divergenceFactor * (result.points.map(\.smoothedLoss).filter(\.isFinite).min() ?? .infinity)
        let raw = result.points.filter { $0.loss <= ceiling }.map { (x: log10($0.learningRate), y: $0.loss) }
        let smoothed = result.points.map { (x: log10($0.learningRate), y: $0.smoothedLoss) }
        var series = [SVGLineChart.Series(name: "loss", color: "#9ecae1", points: raw),
                      SVGLineChart.Series(name: "smoothed loss", color: "#1f77b4", points: smoothed)]
        if let index = result.suggestionIndex {
            let losses = result.points.map(\.smoothedLoss).filter(\.isFinite)
            let x = log10(result.points[index].learningRate)
            series.append(SVGLineChart.Series(name: String(format: "suggested lr %.3g", result.points[index].learningRate),
                                              color: "#d62728", dashed: true,
                                              points: [(x, losses.min() ?? 0), (x, losses.max() ?? 1)]))
        }
        var chart = SVGLineChart(title: title, xLabel: "log₁₀ learning rate", yLabel: "training loss", series: series)
        chart.width = 560
        chart.height = 360
        return chart.render()
    }

    /// Writes `lr_find.csv` and `lr_find.svg` (atomically) into a new folder `runs/<name>/lr-find-<timestamp>`
    /// under `base`, and returns it.
    public static func write(_ result: Result, config: RunConfig, base: URL, date: Date = Date()) throws -> URL {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "yyyyMMdd-HHmmss"
        let parent = base.appendingPathComponent("runs").appendingPathComponent(config.name)
        var folder = parent.appendingPathComponent("lr-find-" + formatter.string(from: date))
        var suffix = 2
        while FileManager.default.fileExists(atPath: folder.path) {
            folder = parent.appendingPathComponent("lr-find-\(formatter.string(from: date))-\(suffix)")
            suffix += 1
        }
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        } catch {
            throw LearningRateFinderError("cannot create \(folder.path): \(error.localizedDescription)")
        }
        try AtomicFile.write(Data(csv(result).utf8), to: folder.appendingPathComponent(csvFile))
        let svg = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + chart(result, title: "learning-rate range test: \(config.name)") + "\n"
        try AtomicFile.write(Data(svg.utf8), to: folder.appendingPathComponent(svgFile))
        return folder
    }

    public static let csvFile = "lr_find.csv"
    public static let svgFile = "lr_find.svg"
}

/// A learning-rate finder option or setup that cannot work.
public struct LearningRateFinderError: UserFacingError, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var diagnostics: [Diagnostic] { [Diagnostic(message, at: nil)] }
}
