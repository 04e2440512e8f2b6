import Foundation

/// Reads sweep files (YAML) into a `SweepSpec` and checks that every point makes a valid run config.
///
/// ```yaml
/// name: lr-models                 # optional; default: the file name
/// base: ../modelA.yaml            # run config, relative to this file
/// mode: grid                      # grid | random
/// samples: 8                      # random mode: number of points
/// seed: 0                         # random mode
/// metric: best_validation_accuracy
/// overrides: [train.iterations=300]
/// vary:
///   train.optimizer.lr: [0.1, 0.01, 0.001]       # or {log_uniform: [1e-4, 1e-1]}, {uniform: [a, b]}
///   model: [../models/modelA.yaml, ../models/modelB.yaml]   # relative to the base config, as in it
/// ```
public enum SweepSpecLoader {
    static let topKeys = ["name", "base", "mode", "samples", "seed", "metric", "overrides", "vary", "slurm"]
    static let domainKeys = ["choice", "uniform", "log_uniform"]

    /// Parses and validates the sweep at `path`, including the run config of every point.
    public static func load(path: String) throws(SpecError) -> SweepSpec {
        let root = try YAMLParser.parse(contentsOf: path)
        let spec = try decode(root, file: path)
        try checkPoints(of: spec)
        return spec
    }

    /// Parses a sweep held in memory; `file` names it in messages and anchors the base path.
    /// Does not open the base config.
    public static func parse(_ text: String, file: String) throws(SpecError) -> SweepSpec {
        try decode(try YAMLParser.parse(text, file: file), file: file)
    }

    private static func decode(_ root: YAMLNode, file: String) throws(SpecError) -> SweepSpec {
        let reader = ValueReader()
        let fileStart = SourceLocation(file: file, line: 1, column: 1)
        let top = reader.mapping(root, path: "", allowed: topKeys)
        let defaultName = URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent
        let name = reader.string(top["name"], path: "name") ?? defaultName
        if let problem = folderNameProblem(name) {
            reader.error("'name' must be a plain folder name, found '\(name)' (\(problem))", at: top["name"], fallback: fileStart,
                         hint: "e.g. name: lr-models (the sweep runs in runs/sweeps/<name>)")
        }
        let base = reader.string(top["base"], path: "base") ?? ""
        if base.isEmpty {
            reader.error("the sweep names no base run config", at: top["base"], fallback: fileStart,
                         hint: "add 'base: ../modelA.yaml' (a path relative to this sweep file)")
        }
        let mode = reader.choice(top["mode"], path: "mode", default: SweepMode.grid)
        let samples = reader.optionalInt(top["samples"], path: "samples", minimum: 1,
                                             maximum: SweepSpec.largestPointCount)
        if mode == .random && samples == nil && top["samples"] == nil && !reader.isMisspelt("samples", in: "") {
            reader.error("a random sweep needs 'samples'", at: top["mode"], fallback: fileStart,
                         hint: "add e.g. 'samples: 8' (the number of points to draw)")
        }
        if mode == .grid, let node = top["samples"], !node.isNull {
            reader.error("'samples' only applies to mode: random", at: node, fallback: nil,
                         hint: "a grid runs every combination; remove 'samples' or set 'mode: random'")
        }
        let seed = reader.int(top["seed"], path: "seed", default: 0, minimum: 0, maximum: ConfigLimits.largestSeed)
        let metric = reader.choice(top["metric"], path: "metric", default: SweepMetric.bestValidationAccuracy)
        let overrides = decodeOverrides(top["overrides"], reader: reader)
        let parameters = decodeVary(top["vary"], mode: mode, reader: reader, fallback: fileStart)
        if mode == .grid {
            var points = 1
            for parameter in parameters {
                guard case .values(let values) = parameter.domain else { continue }
                let product = points.multipliedReportingOverflow(by: max(values.count, 1))
                points = product.overflow ? Int.max : product.partialValue
            }
            if points > SweepSpec.largestPointCount {
                reader.error("the grid has \(points == Int.max ? "more than \(Int.max)" : "\(points)") points, more than the "
                             + "\(SweepSpec.largestPointCount) a sweep may have", at: top["vary"], fallback: fileStart,
                             hint: "list fewer values, or use 'mode: random' with 'samples' (at most \(SweepSpec.largestPointCount))")
            }
        }
        let slurm = decodeSlurm(top["slurm"], reader: reader)
        if !reader.diagnostics.isEmpty { throw SpecError(reader.diagnostics.diagnostics) }
        let basePath = RunConfigDecoder.resolve(base, relativeTo: file)
        var spec = SweepSpec(name: name, file: file, base: base, basePath: basePath, mode: mode, samples: samples ?? 1,
                             seed: UInt64(seed), metric: metric, overrides: overrides, parameters: parameters)
        spec.slurmOptions = slurm
        spec.baseLocation = top["base"]?.location
        return spec
    }

    /// The `slurm:` section: sbatch long options and their values, e.g. `{partition: cpu, time: "02:00:00"}`.
    private static func decodeSlurm(_ node: YAMLNode?, reader: ValueReader) -> [SlurmOption] {
        guard let node, !node.isNull else { return [] }
        guard case .mapping(let pairs, _) = node else {
            reader.error("'slurm' must map sbatch options to values, found \(node.kindDescription)", at: node, fallback: nil,
                         hint: "e.g. slurm: {partition: cpu, time: \"02:00:00\", mem: 8G}")
            return []
        }
        var options: [SlurmOption] = []
        for (keyNode, valueNode) in pairs {
            let key = keyNode.scalarText ?? ""
            guard let value = valueNode.isNull ? "" : valueNode.scalarText else {
                reader.error("'slurm.\(key)' must be a single value, found \(valueNode.kindDescription)", at: valueNode, fallback: nil)
                continue
            }
            if let problem = SlurmOption.problem(key: key, value: value) {
                reader.error("'slurm.\(key)': \(problem)", at: keyNode, fallback: nil,
                             hint: "keys are sbatch's long options without '--' (partition, time, mem, account, qos)")
                continue
            }
            options.append(SlurmOption(key: key, value: value))
        }
        return options
    }

    private static func decodeOverrides(_ node: YAMLNode?, reader: ValueReader) -> [String] {
        guard let node, !node.isNull else { return [] }
        let items: [YAMLNode]
        if case .sequence(let list, _) = node { items = list } else { items = [node] }
        var result: [String] = []
        for item in items {
            guard let text = item.scalarText else {
                reader.error("each override must be 'key.path=value', found \(item.kindDescription)", at: item,
                             fallback: nil, hint: "e.g. overrides: [train.iterations=300, train.batch_size=64]")
                continue
            }
            do {
                if let problem = ConfigSchema.problem(keyPath: try ConfigOverride(parsing: text).keyPath) {
                    reader.error("override '\(text)': \(problem.message)", at: item, fallback: nil, hint: problem.hint)
                    continue
                }
                result.append(text)
            } catch {
                reader.error("override '\(text)' is not 'key.path=value'", at: item, fallback: nil,
                             hint: "e.g. overrides: [train.iterations=300]")
            }
        }
        return result
    }

    private static func decodeVary(_ node: YAMLNode?, mode: SweepMode, reader: ValueReader,
                                   fallback: SourceLocation) -> [SweepParameter] {
        guard let node, !node.isNull else {
            reader.error("the sweep varies nothing", at: node, fallback: fallback,
                         hint: "add e.g. 'vary: {train.optimizer.lr: [0.1, 0.01, 0.001]}'")
            return []
        }
        guard case .mapping(let pairs, _) = node else {
            reader.error("'vary' must map config key paths to values, found \(node.kindDescription)", at: node,
                         fallback: nil, hint: "e.g. vary: {train.optimizer.lr: [0.1, 0.01]}")
            return []
        }
        var parameters: [SweepParameter] = []
        for (keyNode, value) in pairs {
            guard let key = keyNode.scalarText, (try? ConfigOverride(parsing: key + "=")) != nil else {
                reader.error("'vary' keys must be dotted config key paths, found \(keyNode.kindDescription)",
                             at: keyNode, fallback: nil, hint: "e.g. train.optimizer.lr")
                continue
            }
            if let domain = decodeDomain(value, key: key, mode: mode, reader: reader) {
                parameters.append(SweepParameter(keyPath: key, domain: domain, location: keyNode.location))
            }
        }
        return parameters
    }

    private static func decodeDomain(_ node: YAMLNode, key: String, mode: SweepMode,
                                     reader: ValueReader) -> SweepDomain? {
        let path = "vary.\(key)"
        switch node {
        case .sequence:
            return scalarList(node, path: path, reader: reader).map(SweepDomain.values)
        case .mapping(let pairs, _):
            let keys = reader.mapping(node, path: path, allowed: domainKeys)
            guard pairs.count == 1, let (kind, argument) = keys.first else {
                if keys.count > 1 || pairs.isEmpty {
                    reader.error("'\(path)' must have exactly one of \(domainKeys.joined(separator: ", "))", at: node,
                                 fallback: nil, hint: "e.g. {log_uniform: [1e-4, 1e-1]}")
                }
                return nil
            }
            if kind == "choice" { return scalarList(argument, path: path + ".choice", reader: reader).map(SweepDomain.values) }
            guard mode == .random else {
                reader.error("'\(path)': \(kind) draws random numbers and needs 'mode: random'", at: pairs[0].key,
                             fallback: nil, hint: "list the values for a grid, e.g. [0.1, 0.01], or set 'mode: random'")
                return nil
            }
            let logarithmic = kind == "log_uniform"
            let lowest = logarithmic ? Double.leastNormalMagnitude : -Double.greatestFiniteMagnitude
            guard let bounds = reader.doubles(argument, path: path + "." + kind, range: lowest...Double.greatestFiniteMagnitude),
                  bounds.count == 2, bounds[0] < bounds[1] else {
                if reader.diagnostics.diagnostics.last?.location != argument.location {
                    reader.error("'\(path).\(kind)' must be [low, high] with low < high\(logarithmic ? ", both above 0" : "")",
                                 at: argument, fallback: nil, hint: "e.g. {\(kind): [0.0001, 0.1]}")
                }
                return nil
            }
            return logarithmic ? .logUniform(bounds[0]...bounds[1]) : .uniform(bounds[0]...bounds[1])
        case .scalar:
            reader.error("'\(path)' must list the values to try, found the single value \(node.kindDescription)", at: node,
                         fallback: nil, hint: "write a list, e.g. [\(node.scalarText ?? "a"), …]; fixed values go in 'overrides'")
            return nil
        }
    }

    private static func scalarList(_ node: YAMLNode, path: String, reader: ValueReader) -> [String]? {
        guard case .sequence(let items, _) = node, !items.isEmpty else {
            reader.error("'\(path)' must be a non-empty list of values, found \(node.kindDescription)", at: node,
                         fallback: nil, hint: "e.g. [0.1, 0.01]")
            return nil
        }
        var values: [String] = []
        for item in items {
            guard case .scalar(let text, let quoted, _) = item else {
                reader.error("'\(path)' values must be single values, found \(item.kindDescription)", at: item, fallback: nil)
                return nil
            }
            values.append(quoted ? "'" + text.replacingOccurrences(of: "'", with: "''") + "'" : text)
        }
        return values
    }

    /// Loads the base config with every point's overrides; problems in a varied key are reported at
    /// the key in the sweep file, problems of the base config in the base file.
    static func checkPoints(of spec: SweepSpec) throws(SpecError) {
        var problems: [Diagnostic] = []
        var seen = Set<String>()
        // A varied key the schema lacks is reported once, at the key, rather than once per point.
        var unknownKeys = Set<String>()
        for parameter in spec.parameters {
            if let problem = ConfigSchema.problem(keyPath: parameter.keyPath.split(separator: ".").map(String.init)) {
                problems.append(Diagnostic("'vary': \(problem.message)", at: parameter.location, hint: problem.hint))
                unknownKeys.insert(parameter.keyPath)
            }
        }
        for point in SweepExpansion.points(of: spec) {
            do {
                _ = try RunConfigLoader.load(path: spec.basePath, overrides: point.overrides(of: spec))
            } catch {
                for var diagnostic in error.diagnostics where seen.insert(diagnostic.description).inserted {
                    if diagnostic.location == nil {
                        // The base config itself cannot be opened: say so where the sweep names it.
                        diagnostic.message = "base config: " + diagnostic.message
                        diagnostic.location = spec.baseLocation ?? SourceLocation(file: spec.file, line: 1, column: 1)
                    } else if let file = diagnostic.location?.file, file.hasPrefix("--set ") {
                        let key = String(file.dropFirst(6))
                        if unknownKeys.contains(key) { continue }
                        let parameter = spec.parameters.first { $0.keyPath == key }
                        diagnostic.message = "point \(point.id): " + diagnostic.message
                        diagnostic.location = parameter?.location ?? SourceLocation(file: spec.file, line: 1, column: 1)
                    }
                    problems.append(diagnostic)
                }
            }
        }
        if !problems.isEmpty { throw SpecError(problems) }
    }
}
