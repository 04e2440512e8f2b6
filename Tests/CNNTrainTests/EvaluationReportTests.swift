import CNNSpec
import Foundation
import Testing
@testable import CNNTrain

/// `eval`'s per-class report and `predict`'s folder walking and CSV/JSON rows.
@Suite struct EvaluationReportTests {
    @Test func precisionRecallAndF1FollowScikitLearn() {
        // sklearn.metrics.classification_report on y_true/y_pred with this confusion matrix.
        let metrics = ClassificationMetrics(confusion: [[5, 1, 0, 0], [2, 3, 1, 0], [0, 0, 4, 0], [0, 1, 0, 0]], classNames: ["a", "b", "c", "d"])
        let expected: [(Double, Double, Double, Int)] = [(5.0 / 7, 5.0 / 6, 2 * (5.0 / 7) * (5.0 / 6) / (5.0 / 7 + 5.0 / 6), 6),
                                                         (0.6, 0.5, 2 * 0.6 * 0.5 / 1.1, 6), (0.8, 1, 2 * 0.8 / 1.8, 4), (0, 0, 0, 1)]
        for (got, want) in zip(metrics.classes, expected) {
            #expect(abs(got.precision - want.0) < 1e-12 && abs(got.recall - want.1) < 1e-12 && abs(got.f1 - want.2) < 1e-12
                    && got.support == want.3, "\(got)")
        }
        #expect(metrics.total == 17)
        #expect(abs(metrics.macro.recall - (5.0 / 6 + 0.5 + 1 + 0) / 4) < 1e-12)
        #expect(abs(metrics.weighted.precision - (5.0 / 7 * 6 + 0.6 * 6 + 0.8 * 4) / 17) < 1e-12)
        let report = metrics.reportText.split(separator: "\n")
        #expect(report.count == 7 && report[1].hasPrefix("a ") && report[1].hasSuffix("6"))
        let confusion = metrics.confusionText.split(separator: "\n")
        #expect(confusion.count == 5 && confusion[2].hasPrefix("1 b") && confusion[2].hasSuffix("2   3   1   0"), "\(confusion)")
    }

    @Test func foldersAreWalkedForPicturesOnly() throws {
        let folder = TrainingTestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        for path in ["b/2.PNG", "a/1.jpg", "a/deeper/3.pgm", "notes.txt", ".hidden/4.png", "a/.5.png", "empty/readme.md"] {
            let url = folder.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data([1]).write(to: url)
        }
        let found = ImagePaths.expand([folder.path, "given.txt", folder.appendingPathComponent("empty").path])
        #expect(found.files == ["a/1.jpg", "a/deeper/3.pgm", "b/2.PNG"].map { folder.path + "/" + $0 } + ["given.txt"])
        #expect(found.skipped == 3)  // notes.txt and empty/readme.md (twice: the folder and empty/)
        #expect(found.emptyFolders == [folder.appendingPathComponent("empty").path])
    }

    @Test func predictionsAreOneRowPerFileInInputOrder() {
        var report = CheckpointPredictor.Report(imageCount: 3)
        report.results = [CheckpointPredictor.Result(path: "x/a,b.png", ranked: [(0, "cat", 0.75), (1, "dog \"big\"", 0.25)]),
                          CheckpointPredictor.Result(path: "x/c.png", ranked: [(1, "dog \"big\"", 0.5), (0, "cat", 0.5)])]
        report.failed = [("x/bad.png", "x/bad.png: error: not a picture")]
        report.order = ["x/c.png", "x/bad.png", "x/a,b.png"]
        #expect(report.csv(topK: 2) == #"""
            image,class,index,probability,class_2,probability_2,error
            x/c.png,"dog ""big""",1,0.500000,cat,0.500000,
            x/bad.png,,,,,,x/bad.png: error: not a picture
            "x/a,b.png",cat,0,0.750000,"dog ""big""",0.250000,

            """#)
        let json = report.json(topK: 1)
        let parsed = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]]
        #expect(parsed?.map { $0["image"] as? String } == ["x/c.png", "x/bad.png", "x/a,b.png"])
        #expect(parsed?[1]["error"] as? String == "x/bad.png: error: not a picture")
        #expect((parsed?[2]["top"] as? [[String: Any]])?.first?["class"] as? String == "cat")
    }
}
