import CNNSpec
import Foundation
import Testing
@testable import CNNTrain

private func writeRun(_ folder: URL, validation: [Double], test: Double?, interrupted: Bool = false) throws {
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    var metrics = MetricsLog.legacyHeader + "\n"  // files from before the averaged_over column read as before
    for (epoch, accuracy) in validation.enumerated() {
        metrics += "\(epoch + 1),\(100 * (epoch + 1)),train,0.5,0.9,0.01,\(10.0 * Double(epoch + 1)),500\n"
        metrics += "\(epoch + 1),\(100 * (epoch + 1)),validation,0.4,\(accuracy),0.01,\(10.0 * Double(epoch + 1) + 1),\n"
    }
    try metrics.write(to: folder.appendingPathComponent("metrics.csv"), atomically: true, encoding: .utf8)
    let summary = "{\"test_accuracy\": \(test.map { String($0) } ?? "null"), \"test_loss\": 0.2, \"interrupted\": \(interrupted)}"
    try summary.write(to: folder.appendingPathComponent("summary.json"), atomically: true, encoding: .utf8)
}

@Test func tableRanksByBestValidationAccuracyWithTestFallback() throws {
    let fake = try FakeCNNSpec()
    defer { fake.remove() }
    let plan = try fake.plan(rates: ["0.1", "0.01", "0.001", "0.0001"])
    try writeRun(plan.folder(of: plan.points[0]), validation: [0.90, 0.95, 0.93], test: 0.94)  // best 0.95
    try writeRun(plan.folder(of: plan.points[1]), validation: [0.97, 0.96], test: 0.96)        // best 0.97
    try writeRun(plan.folder(of: plan.points[2]), validation: [], test: 0.96)                  // no validation: test
    try writeRun(plan.folder(of: plan.points[3]), validation: [0.99], test: nil, interrupted: true)  // unfinished
    let table = plan.results(relativeTo: fake.root)
    #expect(table.rows.map(\.point.index) == [1, 2, 0, 3], "finished points first, the unfinished one last")
    #expect(table.rows.map(\.score) == [0.97, 0.96, 0.95, 0.99])
    #expect(table.rows.map(\.scoreIsTestFallback) == [false, true, false, false])
    #expect(table.rows[0].result.epochSeconds == 10)
    let markdown = table.markdown
    #expect(markdown.contains("| 2 | 002-lr0.001 | 0.001 | 96.00 % (test) | 96.00 % |"))
    #expect(markdown.contains("| — | 003-lr0.0001 | 0.0001 | 99.00 % | — | 10.0 | — | not started | runs/sweeps/t/003-lr0.0001 |"))
    #expect(markdown.contains("(test): the run has no validation split"))
    let csv = table.csv.split(separator: "\n")
    #expect(csv[0] == "rank,point,train.optimizer.lr,best_validation_accuracy,test_accuracy,epoch_seconds,"
        + "train_images_per_second,status,run_folder,score_is_test_accuracy")
    #expect(csv[1] == "1,001-lr0.01,0.01,0.970000,0.960000,10.0,,finished,runs/sweeps/t/001-lr0.01,false")
}

@Test func lossMetricsRankLowestFirstAndUnscoredLast() throws {
    let fake = try FakeCNNSpec()
    defer { fake.remove() }
    let plan = try fake.plan(rates: ["0.1", "0.2", "0.3"], metric: "test_loss")
    try writeRun(plan.folder(of: plan.points[1]), validation: [0.5], test: 0.9)
    try FileManager.default.createDirectory(at: plan.folder(of: plan.points[2]), withIntermediateDirectories: true)
    try "{\"test_accuracy\": 0.8, \"test_loss\": 0.1, \"interrupted\": false}"
        .write(to: plan.folder(of: plan.points[2]).appendingPathComponent("summary.json"), atomically: true, encoding: .utf8)
    let table = plan.results()
    #expect(table.rows.map(\.point.index) == [2, 1, 0])
    #expect(table.rows.map(\.score) == [0.1, 0.2, nil])
}
