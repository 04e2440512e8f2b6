import CNNSpec
import Foundation
import Testing
@testable import CNNTrain

/// The rules that tie a run config, its model and its data together (`Experiment`), which used to sit
/// in the command line's RunSetup.
@Suite struct ExperimentTests {
    @Test func aLayerBackendNamingAConvolutionLoads() throws {
        let project = try SessionTestProject(train: "layer_backends: {conv2: im2col}")
        defer { project.remove() }
        let experiment = try Experiment(configPath: project.configPath)
        #expect(experiment.graph.name == "tiny")
        #expect(experiment.config.train.layerBackends.map(\.layer) == ["conv2"])
    }

    @Test func anUnknownLayerBackendIsLocatedWithADidYouMean() throws {
        let project = try SessionTestProject(train: "layer_backends: {cnv2: im2col}")
        defer { project.remove() }
        let text = SessionTestProject.errorText { _ = try Experiment(configPath: project.configPath) }
        #expect(text.hasPrefix(project.configPath + ":4:"), "located at the entry: \(text)")
        #expect(text.contains("train.layer_backends: 'cnv2' is not a convolution layer of tiny"))
        #expect(text.contains("did you mean 'conv2'?"))
    }

    @Test func aNameFarFromEveryConvolutionListsThem() throws {
        let project = try SessionTestProject(train: "layer_backends: {classifier: direct}")
        defer { project.remove() }
        let text = SessionTestProject.errorText { _ = try Experiment(configPath: project.configPath) }
        #expect(text.contains("'classifier' is not a convolution layer"))
        #expect(text.contains("hint: conv layers: conv1, conv2"))
    }

    @Test func aLayerBackendOnANonConvolutionLayerSaysWhatItIs() throws {
        let project = try SessionTestProject(train: "layer_backends: {relu1: direct, fc1: im2col}")
        defer { project.remove() }
        let text = SessionTestProject.errorText { _ = try Experiment(configPath: project.configPath) }
        #expect(text.contains("'relu1' is not a convolution layer of tiny"))
        #expect(text.contains("'relu1' is a relu layer; conv layers: conv1, conv2"))
        #expect(text.contains("'fc1' is a linear layer"))
        #expect(text.contains("2 errors"), "every bad entry is reported: \(text)")
    }

    @Test func theInputOverrideReplacesTheModelFilesInput() throws {
        let project = try SessionTestProject()
        defer { project.remove() }
        let experiment = try Experiment(configPath: project.configPath, input: try ModelSpecLoader.parseInputShape("1,12,12"))
        #expect(experiment.graph.inputShape.dimensions == [1, 12, 12])
        #expect(try Experiment(configPath: project.configPath).graph.inputShape.dimensions == [1, 8, 8])
        // The data (8×8) no longer fits the overridden model: the hint says how to resize.
        let text = SessionTestProject.errorText { _ = try experiment.loadData() }
        #expect(text.contains("the data gives 1×8×8 samples but"), "\(text)")
        #expect(text.contains("resize: [12, 12]"))
    }

    @Test func dataThatFitsLoads() throws {
        let project = try SessionTestProject()
        defer { project.remove() }
        let data = try Experiment(configPath: project.configPath).loadData()
        #expect(data.sampleShape == [1, 8, 8] && data.test.count == 16 && data.classNames.count == 10)
    }

    @Test func aClassCountMismatchNamesTheConfigAndTheFix() throws {
        let model = SessionTestProject.tinyModel.replacingOccurrences(of: "out: 10", with: "out: 7")
        let project = try SessionTestProject(model: model)
        defer { project.remove() }
        let text = SessionTestProject.errorText { _ = try Experiment(configPath: project.configPath).loadData() }
        #expect(text.hasPrefix(project.configPath), "\(text)")
        #expect(text.contains("mnist has 10 classes but the model's last layer gives 7 outputs"))
        #expect(text.contains("out: 10"))
    }

    @Test func aChannelMismatchSaysHowManyChannelsEachHas() throws {
        let model = SessionTestProject.tinyModel.replacingOccurrences(of: "input: [1, 8, 8]", with: "input: [3, 8, 8]")
        let project = try SessionTestProject(model: model)
        defer { project.remove() }
        let text = SessionTestProject.errorText { _ = try Experiment(configPath: project.configPath).loadData() }
        #expect(text.contains("the model's input has 3 channel(s), mnist images have 1"), "\(text)")
    }

    @Test func aBadOverrideIsAConfigError() throws {
        let project = try SessionTestProject()
        defer { project.remove() }
        let text = SessionTestProject.errorText {
            _ = try Experiment(configPath: project.configPath, overrides: ["train.backend=fastest"])
        }
        #expect(text.contains("train.backend"), "\(text)")
    }

    @Test func aModelFileBackendIsTypedAtLoadWithItsChoices() throws {
        let good = try ModelSpecLoader.load(yaml: "input: [1, 8, 8]\nlayers:\n  - conv: {out: 2, kernel: 3, backend: toeplitz}\n",
                                            catalog: .standard)
        #expect((good.nodes[1].op as? Conv2dOperation)?.backend == .fixed(.toeplitz))
        let text = SessionTestProject.errorText {
            _ = try ModelSpecLoader.load(yaml: "input: [1, 8, 8]\nlayers:\n  - conv: {out: 2, kernel: 3, backend: fastest}\n",
                                         file: "m.yaml", catalog: .standard)
        }
        #expect(text.hasPrefix("m.yaml:3:"), "located: \(text)")
        for request in BackendRequest.allCases { #expect(text.contains(request.rawValue), "lists \(request): \(text)") }
    }
}
