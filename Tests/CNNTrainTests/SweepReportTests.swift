import CNNSpec
import Foundation
import Testing
@testable import CNNTrain

/// The report of a sweep's runs leads with the ranked results table and one chart per varied key.
struct SweepReportTests {
    private func writeRun(_ folder: URL, validationAccuracy: Double?, test: Double) throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var metrics = MetricsLog.header + "\n"
        for iteration in stride(from: 5, through: 30, by: 5) {
            metrics += "1,\(iteration),train,\(1.0 / Double(iteration)),0.8,0.01,\(Double(iteration) / 10),500,iterations,\(Double(iteration) / 30)\n"
        }
        metrics += "1,30,train,0.1,0.8,0.01,3.0,500,epoch,1\n"
        if let validationAccuracy { metrics += "1,30,validation,0.2,\(validationAccuracy),0.01,3.1,,dataset,1\n" }
        try metrics.write(to: folder.appendingPathComponent(RunFolder.metricsFile), atomically: true, encoding: .utf8)
        try "{\"test_accuracy\": \(test), \"test_loss\": 0.2, \"interrupted\": false}"
            .write(to: folder.appendingPathComponent(RunFolder.summaryFile), atomically: true, encoding: .utf8)
    }

    @Test func sweepReportLeadsWithTheRankingAndOneChartPerKey() throws {
        let fake = try FakeCNNSpec()
        defer { fake.remove() }
        // Twelve points over four decades of learning rate.
        let rates = ["0.0001", "0.0003", "0.0006", "0.001", "0.003", "0.006", "0.01", "0.03", "0.06", "0.1", "0.3", "0.6"]
        let plan = try fake.plan(rates: rates)
        for (index, point) in plan.points.enumerated() {
            try writeRun(plan.folder(of: point), validationAccuracy: 0.5 + Double(index % 5) / 10, test: 0.9)
        }
        try plan.writeResults(plan.results(relativeTo: fake.root))
        let folders = plan.points.map { plan.folder(of: $0) }
        let overview = try #require(RunReport.sweepOverview(of: folders))
        #expect(overview.name == "t" && overview.metric == "best_validation_accuracy" && overview.higherIsBetter)
        #expect(overview.keyPaths == ["train.optimizer.lr"])
        #expect(overview.rows.count == 12)
        #expect(overview.rows.map(\.rank) == (1...12).map(Optional.some))
        let scores = overview.rows.compactMap(\.score)
        #expect(scores == scores.sorted(by: >), "best first")
        #expect(overview.rows.first?.values == ["0.003"], "points 4 and 9 have the highest validation accuracy (0.9), the earlier first")
        #expect(RunReport.sweepOverview(of: [folders[0]]) == nil, "one run is not a sweep report")

        let runs = folders.map { folder in
            RunReportData(name: folder.lastPathComponent, folder: folder,
                          metrics: MetricsTable(csv: (try? String(contentsOf: folder.appendingPathComponent(RunFolder.metricsFile), encoding: .utf8)) ?? ""),
                          configText: "", shapesTable: nil, summaryJSON: nil, predictions: nil, checkpointName: nil, testImages: nil, problems: [])
        }
        var page = ReportPage(runs: runs)
        page.sweep = overview
        let html = page.render()
        let table = try #require(html.range(of: "<table class=\"sweep-results\">"))
        let curves = try #require(html.range(of: "<h2>Training curves</h2>"))
        #expect(table.lowerBound < curves.lowerBound, "the ranking comes first")
        #expect(html.contains("<tr><td>1</td><td>004-lr0.003</td><td>0.003</td><td>90.00%</td><td>90.00%</td><td>finished</td></tr>"))
        let chart = try #require(html.components(separatedBy: "<svg").first { $0.contains("aria-label=\"best_validation_accuracy by train.optimizer.lr\"") })
        #expect(chart.contains("data-points=\"12\""))
        #expect(chart.contains(">0.0001</text>") && chart.contains(">1</text>"), "log axis: decade ticks from 1e-4 to 1")
        #expect(chart.components(separatedBy: "class=\"point-label\"").count - 1 == 12)
        #expect(chart.contains(">#1</text>"))
        // Twelve runs' curves: one legend entry per run, in columns.
        let loss = try #require(html.components(separatedBy: "<svg").first { $0.contains("aria-label=\"Loss\"") })
        #expect(loss.components(separatedBy: "<polyline").count - 1 == 24)
        #expect(loss.contains("data-points=\"6\""))
    }

    @Test func resultsCSVWithQuotedFieldsReadsBack() throws {
        let csv = "rank,point,model,test_loss,test_accuracy,epoch_seconds,train_images_per_second,status,run_folder,score_is_test_accuracy\n"
            + "1,000-a,\"a,b\",0.250000,0.900000,1.0,100,finished,\"runs/x,y\",false\n—,001-c,c,,,,,not started,runs/z,false\n"
        let overview = try #require(SweepOverview(name: "s", resultsCSV: csv))
        #expect(!overview.higherIsBetter && overview.metric == "test_loss")
        #expect(overview.rows.map(\.values) == [["a,b"], ["c"]])
        #expect(overview.rows.map(\.folder) == ["runs/x,y", "runs/z"])
        #expect(overview.rows.map(\.rank) == [1, nil])
        #expect(overview.html().contains(">a,b</text>"), "categorical values as named ticks")
        #expect(SweepOverview.shortLabel("../models/modelA.yaml") == "modelA.yaml")
        #expect(SweepOverview.shortLabel(String(repeating: "x", count: 30)).count == SweepOverview.longestTickLabel)
        #expect(SweepOverview(name: "s", resultsCSV: "epoch,iteration\n1,2\n") == nil)
    }
}
