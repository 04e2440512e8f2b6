import CNNSpec
import Foundation
import Testing
@testable import CNNTrain

@Suite struct LearningRateFinderTests {
    typealias Point = LearningRateFinder.Point

    /// fastai's `steep` on a hand-made smoothed curve: the steepest fall against log(lr) is between
    /// points 12 and 13 (a drop of 0.5 where the others drop 0.1 or rise), so 12 is suggested;
    /// the first tenth and the last five points are not considered.
    @Test func suggestionIsTheSteepestDescentOfTheSmoothedLoss() {
        var losses = (0..<30).map { 3.0 - 0.1 * Double($0) }
        losses[1] = -100  // inside the skipped first tenth (3 points)
        losses[13] = losses[12] - 0.5
        for index in 14..<30 { losses[index] = losses[13] - 0.1 * Double(index - 13) }
        losses[26] = -500  // inside the skipped last five
        let points = losses.enumerated().map { Point(learningRate: pow(10, Double($0.offset) / 5 - 6), loss: $0.element, smoothedLoss: $0.element) }
        #expect(LearningRateFinder.suggestion(points) == 12)
        let flat = (0..<30).map { Point(learningRate: Double($0 + 1), loss: 1, smoothedLoss: 1 + 0.01 * Double($0)) }
        #expect(LearningRateFinder.suggestion(flat) == nil, "a curve that never falls has no suggestion")
        #expect(LearningRateFinder.suggestion(Array(points.prefix(6))) == nil)
    }

    /// The ramp is exponential from start to end, the smoothing is fastai's bias-corrected average,
    /// and a loss that explodes stops the test early; on a curve that falls fastest around 1e-3 and
    /// explodes above 1, the suggestion lands in the falling part, below where the loss climbs.
    @Test func runOnASyntheticLossCurve() throws {
        let options = LearningRateFinder.Options(start: 1e-6, end: 100, steps: 200)
        var seen: [Double] = []
        let result = LearningRateFinder.run(options: options) { rate in
            seen.append(rate)
            let x = log10(rate)
            return 0.2 + 2 / (1 + exp(3 * (x + 3))) + (x > 0 ? exp(4 * x) - 1 : 0)
        }
        #expect(abs(seen[0] - 1e-6) < 1e-18)
        #expect(abs(seen[1] / seen[0] - pow(1e8, 1.0 / 199)) < 1e-9)
        #expect(result.points[0].smoothedLoss == result.points[0].loss)
        let l0 = result.points[0].loss, l1 = result.points[1].loss
        let expected = (0.98 * 0.02 * l0 + 0.02 * l1) / (1 - 0.98 * 0.98)
        #expect(abs(result.points[1].smoothedLoss - expected) < 1e-12)
        #expect(result.stoppedEarly && result.points.count < 200)
        let last = result.points[result.points.count - 1]
        #expect(last.smoothedLoss > 4 * result.points.map(\.smoothedLoss).min()!)
        let suggested = try #require(result.suggestedLearningRate)
        #expect(suggested > 1e-4 && suggested < 1, "suggested \(suggested)")
        let csv = LearningRateFinder.csv(result)
        #expect(csv.split(separator: "\n").count == result.points.count + 1)
        let svg = LearningRateFinder.chart(result, title: "t")
        #expect(svg.contains("smoothed loss") && svg.contains("suggested lr"))
    }

    @Test func optionsAreChecked() {
        #expect(throws: LearningRateFinderError.self) { try LearningRateFinder.validate(.init(start: 0, end: 1, steps: 100)) }
        #expect(throws: LearningRateFinderError.self) { try LearningRateFinder.validate(.init(start: 1, end: 0.1, steps: 100)) }
        #expect(throws: LearningRateFinderError.self) { try LearningRateFinder.validate(.init(start: 1e-7, end: 10, steps: 3)) }
        #expect(throws: Never.self) { try LearningRateFinder.validate(.init()) }
    }

    /// The whole test on a tiny model: reproducible, a suggestion, and the two files in a new
    /// runs/<name>/lr-find-<timestamp> folder.
    @Test func runsOnATinyModelAndWritesTheFolder() throws {
        let folder = TrainingTestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let (config, graph, data) = try RecipeTrainingTests.setup(folder: folder.appendingPathComponent("run"))
        let options = LearningRateFinder.Options(start: 1e-5, end: 10, steps: 60)
        let first = try LearningRateFinder.run(config: config, graph: graph, data: data, options: options)
        let second = try LearningRateFinder.run(config: config, graph: graph, data: data, options: options)
        #expect(first.points == second.points)
        #expect(first.points.count > 20)
        let rate = try #require(first.suggestedLearningRate)
        #expect(rate > 1e-5 && rate < 10)
        let written = try LearningRateFinder.write(first, config: config, base: folder, date: Date(timeIntervalSince1970: 0))
        #expect(written.lastPathComponent.hasPrefix("lr-find-1970"))
        #expect(written.deletingLastPathComponent().lastPathComponent == config.name)
        let csv = try String(contentsOf: written.appendingPathComponent(LearningRateFinder.csvFile), encoding: .utf8)
        #expect(csv.hasPrefix("step,learning_rate,loss,smoothed_loss\n"))
        let svg = try String(contentsOf: written.appendingPathComponent(LearningRateFinder.svgFile), encoding: .utf8)
        #expect(svg.contains("<polyline"))
        let again = try LearningRateFinder.write(first, config: config, base: folder, date: Date(timeIntervalSince1970: 0))
        #expect(again != written, "a second test in the same second gets its own folder")
    }

    // lr-find warns when its suggestion comes from too few points or from a curve still falling at the end.

    /// A loss with its minimum at lr 1e-3 that explodes beyond it.
    private static func valley(_ rate: Double) -> Double { 1 + pow(log10(rate) + 3, 2) }

    @Test func aFullCurveGivesNoWarning() {
        let result = LearningRateFinder.run(options: .init(steps: 200), step: Self.valley)
        #expect(result.suggestedLearningRate != nil)
        #expect(result.warnings.isEmpty)
    }

    @Test func fewStepsWarnThatThereAreTooFewPoints() {
        let result = LearningRateFinder.run(options: .init(steps: 40), step: Self.valley)
        #expect(result.warnings.contains { $0.hasPrefix("only ") && $0.contains("points to choose a rate from") && $0.contains("--steps 100") })
    }

    @Test func aCurveStillFallingAtTheEndWarns() {
        let result = LearningRateFinder.run(options: .init(start: 1e-7, end: 1e-4, steps: 200), step: Self.valley)
        #expect(!result.stoppedEarly)
        #expect(result.warnings.contains { $0.hasPrefix("the smoothed loss was still falling at the last step") })
    }
}
