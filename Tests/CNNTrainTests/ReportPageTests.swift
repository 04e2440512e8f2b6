import Foundation
import Testing
@testable import CNNTrain

struct ReportPageTests {
    static let csv = """
        epoch,iteration,split,loss,accuracy,learning_rate,seconds,images_per_second
        1,100,train,0.900000,0.700000,0.1,1.0,1000
        1,100,validation,0.600000,0.800000,0.1,1.1,
        2,200,train,0.500000,0.850000,0.05,2.0,1000
        2,200,validation,0.400000,0.880000,0.05,2.1,
        3,300,train,0.300000,0.910000,0.025,3.0,1000
        3,300,validation,0.350000,0.900000,0.025,3.1,
        3,30
        """

    /// Three classes, six test images: labels 0 0 1 1 2 2, predictions 0 1 1 1 2 0.
    static func run(name: String) throws -> RunReportData {
        let images = (0..<6).flatMap { index in [UInt8](repeating: UInt8(index * 40), count: 16) }
        let dataset = try Dataset(name: "tiny", images: images, labels: [0, 0, 1, 1, 2, 2], channels: 1, height: 4, width: 4,
                                  classNames: ["cat", "dog", "<bird>"])
        let predictions = TestPredictions(labels: [0, 0, 1, 1, 2, 2], predicted: [0, 1, 1, 1, 2, 0],
                                          confidence: [0.9, 0.6, 0.8, 0.7, 0.95, 0.99], classNames: dataset.classNames)
        return RunReportData(name: name, folder: URL(fileURLWithPath: "/tmp/\(name)"), metrics: MetricsTable(csv: csv),
                             configText: "name: \"tiny\"\ntrain:\n  batch_size: 100", shapesTable: "layer  output\nconv1  [6, 24, 24]",
                             summaryJSON: "{\"test_accuracy\": 0.666667}", predictions: predictions, checkpointName: "best.safetensors",
                             testImages: dataset, problems: [])
    }

    private func count(_ needle: String, in text: String) -> Int { text.components(separatedBy: needle).count - 1 }

    @Test func metricsParseAndSkipThePartialLine() {
        let table = MetricsTable(csv: Self.csv)
        #expect(table.rows.count == 6)
        #expect(table.rows(split: "validation").map(\.loss) == [0.6, 0.4, 0.35])
        #expect(table.iterationsPerEpoch == 100)
        #expect(table.position(of: MetricsRow(epoch: 2, iteration: 150, split: "validation", loss: 0, accuracy: 0, learningRate: 0, seconds: 0)) == 1.5)
    }

    @Test func pageHasCurvesMatrixGridConfigAndShapes() throws {
        let html = ReportPage(runs: [try Self.run(name: "alpha")]).render()
        #expect(html.hasPrefix("<!DOCTYPE html>"))
        #expect(count("<svg class=\"chart\"", in: html) == 3)
        #expect(html.contains("data-series=\"train\""))
        #expect(html.contains("data-series=\"validation\""))
        #expect(html.contains("data-series=\"learning rate\""))
        #expect(count("<polyline", in: html) == 5, "train + validation loss, train + validation accuracy, learning rate")
        #expect(count("<circle", in: html) == 15, "three points per series")
        #expect(html.contains("stroke-dasharray"), "validation curves are dashed")
        // Confusion matrix rows: cat → [1, 1, 0], dog → [0, 2, 0], <bird> → [1, 0, 1].
        #expect(html.contains("title=\"true cat, predicted cat: 1\">1</td>"))
        #expect(html.contains("title=\"true dog, predicted dog: 2\">2</td>"))
        #expect(html.contains("title=\"true &lt;bird&gt;, predicted cat: 1\">1</td>"))
        #expect(html.contains("<td>dog</td><td>100.00%</td><td>2</td><td>2</td>"))
        #expect(html.contains("<td>cat</td><td>50.00%</td><td>1</td><td>2</td>"))
        #expect(html.contains("test accuracy <b class=\"test-accuracy\">66.67%</b>"))
        #expect(count("<figure class=\"sample\"", in: html) == 4)
        #expect(count("<figure class=\"sample wrong\"", in: html) == 2 + 2, "2 mistakes in the grid, 2 in the mistakes list")
        #expect(count("src=\"data:image/png;base64,", in: html) == 8)
        let mistakes = try #require(html.range(of: "Most confident mistakes"))
        let after = String(html[mistakes.upperBound...])
        let first = try #require(after.range(of: "alt=\"test image 5\"")), second = try #require(after.range(of: "alt=\"test image 1\""))
        #expect(first.lowerBound < second.lowerBound, "the 99% mistake comes before the 60% one")
        #expect(html.contains("<pre class=\"config\">name: &quot;tiny&quot;"))
        #expect(html.contains("<pre class=\"shapes\">layer  output\nconv1  [6, 24, 24]</pre>"))
        #expect(!html.contains("<bird>"), "class names are escaped")
    }

    @Test func pageIsSelfContained() throws {
        let html = ReportPage(runs: [try Self.run(name: "alpha")]).render()
        #expect(!html.contains("<script"))
        #expect(!html.contains("src=\"http"))
        #expect(!html.contains("href=\"http"))
        #expect(!html.contains("<link"))
    }

    @Test func embeddedThumbnailsAreTheTestImagesUpscaled() throws {
        let html = ReportPage(runs: [try Self.run(name: "alpha")]).render()
        let start = try #require(html.range(of: "src=\"data:image/png;base64,"))
        let end = try #require(html[start.upperBound...].firstIndex(of: "\""))
        let bytes = try #require(Data(base64Encoded: String(html[start.upperBound..<end])))
        let image = try PNGDecoder.decode([UInt8](bytes), path: "thumbnail")
        #expect(image.width == 56 && image.height == 56 && image.channels == 1)
        #expect(image.pixels.allSatisfy { $0 == 0 }, "test image 0 is all zeros")
    }

    @Test func severalRunsAreOverlaidWithALegend() throws {
        let html = ReportPage(runs: [try Self.run(name: "alpha"), try Self.run(name: "beta")]).render()
        #expect(count("<polyline", in: html) == 10)
        for name in ["alpha train", "alpha validation", "beta train", "beta validation", "beta learning rate"] {
            #expect(html.contains("data-series=\"\(name)\""), "\(name)")
        }
        // The legend names each run once (its colour) and the line styles once, not run × split.
        for entry in ["alpha", "beta", "train", "validation"] { #expect(html.contains(">\(entry)</text>"), "legend entry \(entry)") }
        #expect(!html.contains(">alpha train</text>"))
        #expect(count("<h2 class=\"run\"", in: html) == 2)
    }

    @Test func chartTicksAreRound() {
        let range = SVGLineChart.niceRange(0.13, 0.94)
        #expect(range.lower == 0 && range.upper == 1)
        #expect(range.ticks.count == 6)
        #expect(zip(range.ticks, [0, 0.2, 0.4, 0.6, 0.8, 1]).allSatisfy { abs($0 - $1) < 1e-12 })
        let flat = SVGLineChart.niceRange(0.01, 0.01)
        #expect(flat.lower < 0.01 && flat.upper > 0.01 && flat.lower >= 0)
    }

    @Test func missingCheckpointIsANoteNotAnError() throws {
        var run = try Self.run(name: "alpha")
        run.predictions = nil
        run.problems = ["no best.safetensors or last.safetensors: no test predictions"]
        let html = ReportPage(runs: [run]).render()
        #expect(html.contains("class=\"note\">note: no best.safetensors"))
        #expect(!html.contains("<table class=\"confusion\""))
        #expect(count("<svg class=\"chart\"", in: html) == 3)
    }
}
