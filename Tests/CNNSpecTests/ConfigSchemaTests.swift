import Foundation
import Testing
@testable import CNNSpec

/// The run-config schema: one declaration per key feeds the decoder, the resolved YAML, `--set` and
/// sweep validation, `cnnspec config` and docs/run-config.md.
@Suite struct ConfigSchemaTests {
    @Test func defaultsTextReadsBackToTheDefaultConfig() throws {
        let text = ConfigReference.defaultsYAML()
        let config = try RunConfigLoader.parse(text, file: "/work/configs/defaults.yaml")
        #expect(config.name == "defaults")
        #expect(config.modelPath == "/work/models/modelA.yaml")
        #expect(config.data == DataConfig())
        #expect(config.train == TrainConfig())
        #expect(config.output == OutputConfig())
        // Every key is in it, written or commented out, with a comment.
        for key in ConfigSchema.keys {
            #expect(text.contains(key.name + ":"), "\(key.path) missing from --defaults")
        }
        #expect(text.split(separator: "\n").dropFirst().allSatisfy { $0.contains("  # ") })
    }

    @Test func everyKeyWritesWhatItReads() throws {
        // Each key set to its own default through --set decodes to the default config: read and write agree.
        for key in ConfigSchema.keys where !key.isSection && key.example == nil && key.derivedDefault == nil {
            var overrides = ["\(key.path)=\(key.defaultText)"]
            if let variant = key.variant {
                guard let user = key.takenBy.first else { continue }
                overrides.insert("\(variant.sectionPath).name=\(user)", at: 0)
            }
            if key.parent == "train.early_stopping" { overrides.insert("train.early_stopping={}", at: 0) }
            let config = try RunConfigLoader.parse("model: m.yaml\n", file: "c.yaml", overrides: overrides)
            // Keys another key requires (multistep's milestones) have no config without them to compare with.
            guard let expected = try? RunConfigLoader.parse("model: m.yaml\n", file: "c.yaml",
                                                            overrides: Array(overrides.dropLast())) else { continue }
            #expect(config == expected, "\(key.path)=\(key.defaultText)")
        }
    }

    @Test func newRecipeKeysDecodeAndRoundTrip() throws {
        let text = """
        model: m.yaml
        train:
          clip_grad_norm: 1.5
          clip_grad_value: 0.25
          label_smoothing: 0.1
          early_stopping: {metric: validation_accuracy, patience: 5, min_delta: 0.001}
          log_every: 20
          optimizer: {name: adam, lr: 0.002, eps: 1e-6}
        output:
          tensorboard: true
        """
        let config = try RunConfigLoader.parse(text, file: "/work/configs/new.yaml")
        #expect(config.train.clipGradNorm == 1.5)
        #expect(config.train.clipGradValue == 0.25)
        #expect(config.train.labelSmoothing == 0.1)
        #expect(config.train.earlyStopping == EarlyStoppingConfig(metric: .validationAccuracy, patience: 5, minDelta: 0.001))
        #expect(config.train.logEvery == 20)
        #expect(config.train.optimizer.eps == 1e-6)
        #expect(config.output.tensorboard)
        let again = try RunConfigLoader.parse(config.yamlText, file: "/elsewhere/resolved.yaml")
        #expect(again.train == config.train)
        #expect(again.output == config.output)
        #expect(again.yamlText == config.yamlText)
        #expect(config.yamlText.contains("early_stopping: {metric: validation_accuracy, patience: 5, min_delta: 0.001}"))

        let defaults = try RunConfigLoader.parse("model: m.yaml\ntrain: {early_stopping: {}}\n", file: "c.yaml")
        #expect(defaults.train.earlyStopping == EarlyStoppingConfig())
    }

    @Test func keysAddedLaterAreLeftOutAtTheirDefaultSoOldHashesStay() throws {
        let plain = try RunConfigLoader.parse("model: m.yaml\n", file: "c.yaml")
        for key in ["clip_grad", "label_smoothing", "early_stopping", "log_every", "tensorboard", "alpha", "centered",
                    "factor", "pct_start"] {
            #expect(!plain.yamlText.contains(key), "\(key)")
        }
        let adam = try RunConfigLoader.parse("model: m.yaml\ntrain: {optimizer: {name: adam}}\n", file: "c.yaml")
        #expect(adam.yamlText.contains("optimizer: {name: adam, lr: 0.001, betas: [0.9, 0.999], eps: 1e-08, weight_decay: 0.0}"))
    }

    @Test func earlyStoppingNeedsAValidationSet() throws {
        let found = diagnostics("model: m.yaml\ndata: {validation_split: 0}\ntrain:\n  early_stopping: {patience: 2}\n")
        #expect(found.map(\.message) == ["'train.early_stopping' needs a validation set, but 'data.validation_split' is 0"])
        #expect(found.first?.location == SourceLocation(file: "cfg.yaml", line: 4, column: 19))
        let bad = diagnostics("model: m.yaml\ntrain: {early_stopping: {metric: loss, patience: 0, min_dlta: 1}}\n")
        #expect(bad.contains { $0.message == "'train.early_stopping.metric' cannot be 'loss'" })
        #expect(bad.contains { $0.message == "'train.early_stopping.patience' must be in 1...1000000000, found 0" })
        #expect(bad.contains { $0.message == "unknown key 'min_dlta' in 'train.early_stopping'"
            && $0.hint?.hasPrefix("did you mean 'min_delta'?") == true })
    }

    @Test func keysOfAnotherOptimizerOrScheduleAreRefusedWhereWritten() {
        let found = diagnostics("""
        model: m.yaml
        train:
          optimizer: {name: sgd, alpha: 0.9, eps: 1e-6}
          schedule: {name: cosine, gamma: 0.5, pct_start: 0.2}
        """)
        #expect(found.count == 4)
        #expect(found.contains { $0.message == "'train.optimizer.eps' applies to adam, adamw and rmsprop, not 'sgd'"
            && $0.location?.line == 3 })
        #expect(found.contains { $0.message.hasPrefix("'train.optimizer.alpha' applies to") && $0.location?.line == 3 })
        #expect(found.contains { $0.message == "'train.schedule.gamma' applies to step, multistep and exponential, not 'cosine'"
            && $0.location?.line == 4 && $0.hint == "remove it or change 'train.schedule.name'" })
        #expect(found.contains { $0.message.hasPrefix("'train.schedule.pct_start' applies to") })
    }

    @Test func variantTablesDecideKeysAndDefaults() {
        for name in OptimizerName.allCases {
            let profile = OptimizerProfile.of(name)
            #expect(OptimizerConfig(name: name).learningRate == profile.learningRate)
            for key in profile.keys {
                #expect(ConfigSchema.key("train.optimizer." + key)?.variant == .optimizer, "\(name): \(key)")
            }
        }
        for name in ScheduleName.allCases {
            for key in ScheduleProfile.of(name).keys {
                #expect(ConfigSchema.key("train.schedule." + key)?.variant == .schedule, "\(name): \(key)")
            }
        }
        #expect(ConfigSchema.key("train.optimizer.momentum")?.takenBy == ["sgd", "rmsprop"])
        #expect(ConfigSchema.key("train.optimizer.alpha")?.takenBy == ["rmsprop"])
        #expect(ConfigSchema.key("train.schedule.pct_start")?.takenBy == ["one_cycle"])
    }

    @Test func setAndSweepKeysAreCheckedAgainstTheSchema() throws {
        let found = diagnostics("model: m.yaml\n", overrides: ["train.early_stoping.patience=3", "train.seed.x=1",
                                                                 "train.layer_backends.cnn1=direct"])
        #expect(found.count == 2)
        #expect(found.contains { $0.message == "unknown key 'early_stoping' in 'train'"
            && $0.location == SourceLocation(file: "--set train.early_stoping.patience", line: 1, column: 1)
            && $0.hint?.hasPrefix("did you mean 'early_stopping'?") == true })
        #expect(found.contains { $0.message == "'train.seed' is a single value, not a mapping of keys" })

        do {
            _ = try SweepSpecLoader.parse("base: c.yaml\noverrides: [train.batch_sise=8]\nvary: {train.seed: [1, 2]}\n",
                                          file: "s.yaml")
            Issue.record("expected an error")
        } catch {
            #expect(error.diagnostics.map(\.message) == ["override 'train.batch_sise=8': unknown key 'batch_sise' in 'train'"])
            #expect(error.diagnostics.first?.location?.line == 2)
        }
    }

    @Test func explainSaysTypeDefaultAndWhoTakesTheKey() throws {
        let text = try #require(ConfigReference.explain("train.optimizer.momentum"))
        #expect(text.contains("type: number [0, 1]"))
        #expect(text.contains("default: 0.0"))
        #expect(text.contains("applies to: sgd, rmsprop only"))
        let lr = try #require(ConfigReference.explain("train.optimizer.lr"))
        #expect(lr.contains("default: 0.01 for sgd, rmsprop; 0.001 for adam, adamw"))
        let section = try #require(ConfigReference.explain("train.early_stopping"))
        #expect(section.contains("keys: metric, patience, min_delta"))
        #expect(ConfigReference.explain("train.optimzer.lr") == nil)
        #expect(ConfigReference.suggestion(for: "train.optimzer.lr") == "train.optimizer.lr")
        #expect(ConfigReference.suggestion(for: "label_smoothing") == "train.label_smoothing")
        let overview = ConfigReference.overview()
        #expect(ConfigSchema.paths.allSatisfy { overview.contains($0) })
    }

    @Test func docsKeyTableIsTheSchemasOutput() throws {
        let path = SpecTestSupport.modelsDirectory.deletingLastPathComponent().appendingPathComponent("docs/run-config.md").path
        let written = try String(contentsOfFile: path, encoding: .utf8)
        let regenerated = try #require(ConfigReference.updating(document: written), "docs/run-config.md lost its table markers")
        #expect(written == regenerated,
                "docs/run-config.md's key table is stale: replace the lines between its markers with `cnnspec config --markdown`")
    }

    @Test func docsExampleIsAValidConfig() throws {
        let path = SpecTestSupport.modelsDirectory.deletingLastPathComponent().appendingPathComponent("docs/run-config.md").path
        let written = try String(contentsOfFile: path, encoding: .utf8)
        let example = try #require(written.components(separatedBy: "```yaml\n").dropFirst().first?
            .components(separatedBy: "```").first)
        let config = try RunConfigLoader.parse(example, file: "/work/configs/example.yaml")
        #expect(config.train.optimizer.name == .sgd)
        // Every uncommented key of the example is a key of the schema, and every top-level section is shown.
        for section in ConfigSchema.children(of: "") {
            #expect(example.contains("\n" + section.name + ":") || example.hasPrefix(section.name + ":"), "\(section.path)")
        }
    }
}
