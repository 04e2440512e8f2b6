import CNNSpec
import Foundation

/// Everything the report shows about one run folder, loaded and evaluated.
public struct RunReportData: Sendable {
    public var name: String
    public var folder: URL
    public var metrics: MetricsTable
    public var configText: String
    public var shapesTable: String?
    public var summaryJSON: String?
    /// Date, host, version, commit, threads and backends from summary.json (nil for older runs).
    public var header: RunHeader? { summaryJSON.flatMap(RunHeader.init(summaryJSON:)) }
    /// Test-set predictions of the run's best (else last) checkpoint; nil with `problems` saying why.
    public var predictions: TestPredictions?
    public var checkpointName: String?
    /// The raw test images (for the thumbnails), when predictions exist.
    public var testImages: Dataset?
    /// What could not be loaded (shown in the report instead of the missing section).
    public var problems: [String]

    /// Reads `folder`'s metrics, config and summary; loads the model and data and evaluates the test set
    /// with `best.safetensors` (else `last.safetensors`). Only a folder without metrics.csv and config.yaml
    /// is an error; anything else missing becomes a note in the report.
    public static func load(folder: URL, threads: Int = 0) throws(ReportError) -> RunReportData {
        let metricsURL = folder.appendingPathComponent(RunFolder.metricsFile)
        let configURL = folder.appendingPathComponent(RunFolder.configFile)
        let csv = try? String(contentsOf: metricsURL, encoding: .utf8)
        let configText = try? String(contentsOf: configURL, encoding: .utf8)
        guard csv != nil || configText != nil else {
            throw ReportError(path: folder.path, problem: "not a run folder (no \(RunFolder.metricsFile) or \(RunFolder.configFile))")
        }
        var data = RunReportData(name: folder.lastPathComponent, folder: folder, metrics: MetricsTable(csv: csv ?? ""),
                                 configText: configText ?? "(no config.yaml)", shapesTable: nil,
                                 summaryJSON: try? String(contentsOf: folder.appendingPathComponent(RunFolder.summaryFile), encoding: .utf8),
                                 predictions: nil, checkpointName: nil, testImages: nil, problems: [])
        if csv == nil { data.problems.append("no \(RunFolder.metricsFile)") }
        guard configText != nil else { return data }
        do {
            let config = try RunConfigLoader.load(path: configURL.path)
            data.name = "\(config.name) / \(folder.lastPathComponent)"
            let graph = try ModelSpecLoader.load(config: config, catalog: .standard)
            data.name = "\(graph.name) / \(folder.lastPathComponent)"
            data.shapesTable = ShapeReport(graph: graph, file: config.modelPath).render(.table)
            let experiment = try Experiment(config: config, graph: graph)
            guard let checkpoint = ["best.safetensors", "last.safetensors"].map({ folder.appendingPathComponent($0) })
                .first(where: { FileManager.default.fileExists(atPath: $0.path) }) else {
                data.problems.append("no best.safetensors or last.safetensors: no test predictions")
                return data
            }
            let training = try experiment.loadData()
            let plan = try experiment.makeEvaluationPlan(threads: threads)
            _ = try CheckpointIO.load(into: plan.parameters, from: checkpoint)
            plan.parametersDidChange()
            let loader = training.testLoader(batchSize: plan.batchCapacity, seed: config.train.seed, threadPool: plan.pool)
            data.predictions = TestPredictions.compute(plan: plan, loader: loader, classNames: training.classNames)
            data.checkpointName = checkpoint.lastPathComponent
            data.testImages = training.test
        } catch {
            data.problems.append("test predictions unavailable: \(error)")
        }
        return data
    }
}
