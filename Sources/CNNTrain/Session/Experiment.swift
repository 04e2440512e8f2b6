import CNNLayers
import CNNSpec
import Foundation

/// A run config and its model, checked against each other: what `run`, `eval`, `time` and a sweep's
/// checks start from. It loads the data (checked against the model) and compiles the plans, so the rules
/// that tie config, model, data and backends together live here, where tests reach them.
public struct Experiment {
    public var config: RunConfig
    public var graph: ModelGraph

    /// Loads the config (with `--set` overrides) and its model — at `input` instead of the model file's
    /// input when given — and checks them against each other (`checked(config:graph:)`).
    public init(configPath: String, overrides: [String] = [], input: TensorShape? = nil) throws {
        let config = try RunConfigLoader.load(path: configPath, overrides: overrides)
        let graph = try ModelSpecLoader.load(config: config, catalog: .standard, inputOverride: input)
        try self.init(config: config, graph: graph)
    }

    /// Pairs a loaded config and model; every `train.layer_backends` entry must name a convolution layer
    /// of the model (a `SpecError` located at the entry, with a did-you-mean or the conv layers otherwise).
    /// `train.freeze` and `train.init.exclude` patterns must each match something (`LayerPattern.problems`).
    public init(config: RunConfig, graph: ModelGraph) throws(SpecError) {
        let problems = Self.layerBackendProblems(config: config, graph: graph)
            + LayerPattern.problems(config.train.freeze, key: "train.freeze", graph: graph, trainableOnly: true,
                                    locations: config.locations)
            + LayerPattern.problems(config.train.initialization?.exclude ?? [], key: "train.init.exclude", graph: graph,
                                    trainableOnly: false, locations: config.locations)
        if !problems.isEmpty { throw SpecError(problems) }
        self.config = config
        self.graph = graph
    }

    /// One diagnostic per `train.layer_backends` entry that names no convolution layer of `graph`.
    public static func layerBackendProblems(config: RunConfig, graph: ModelGraph) -> [Diagnostic] {
        let convolutions = graph.nodes.filter { $0.op is Conv2dOperation }.map(\.name)
        let listed = "conv layers: \(convolutions.joined(separator: ", "))"
        return config.train.layerBackends.filter { !convolutions.contains($0.layer) }.map { override in
            let hint: String
            if let other = graph.nodes.first(where: { $0.name == override.layer }) {
                hint = "'\(other.name)' is a \(other.op.kindName) layer; \(listed)"
            } else {
                hint = DidYouMean.suggestion(for: override.layer, among: convolutions).map { "did you mean '\($0)'?" } ?? listed
            }
            return Diagnostic("train.layer_backends: '\(override.layer)' is not a convolution layer of \(graph.name)",
                              at: override.location, hint: hint)
        }
    }

    /// Loads the data and checks that its samples and classes fit the model (errors name the config).
    /// The class count is checked first, from folder names or label files (`checkClassCount`).
    public func loadData() throws -> TrainingData {
        try checkClassCount()
        return try TrainingData.load(for: config, graph: graph)
    }

    /// How the trainer's plan is compiled (training and its evaluations share it).
    public var trainingPlanSettings: PlanSettings { .training(config.train) }

    /// How an evaluation-only plan is compiled; `threads` (when given and not 0) overrides `train.threads`.
    public func evaluationPlanSettings(threads: Int? = nil) -> PlanSettings {
        .evaluation(config.train, threads: threads.flatMap { $0 == 0 ? nil : $0 })
    }

    /// The trainer's plan.
    public func makeTrainingPlan() throws -> ExecutionPlan {
        try trainingPlanSettings.makePlan(for: graph)
    }

    /// A plan for inference passes of `train.eval_batch_size` images.
    public func makeEvaluationPlan(threads: Int? = nil) throws -> ExecutionPlan {
        try evaluationPlanSettings(threads: threads).makePlan(for: graph)
    }

    /// Refuses a training plan the machine cannot hold, before a run folder is made for it.
    public func checkTrainingMemory() throws {
        try trainingPlanSettings.checkMemory(for: graph, model: config.modelPath)
    }
}
