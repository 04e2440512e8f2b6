import CNNSpec
import Foundation

/// The rules of `cnnspec sweep` besides running points (`SweepRunner`): checking every point before
/// anything runs or is submitted, finding a sweep's folder for `--collect`, and the Slurm script's CPUs.
extension SweepPlan {
    /// CPUs per Slurm task when neither `--cpus-per-task` nor a config's `train.threads` says: a small
    /// share of a typical node, where the tutorials' models already train at full speed.
    public static let defaultCPUsPerTask = 4

    /// Loads every point's config (base + overrides) and model and checks them against each other
    /// (`Experiment`), so that a bad value, `model:` or layer backend in any point is an error before anything
    /// runs or is submitted; every failing point is reported. Returns the configs in point order.
    public func checkEveryPoint() throws -> [RunConfig] {
        var configs: [RunConfig] = []
        var problems: [Diagnostic] = []
        for point in points {
            do {
                configs.append(try Experiment(configPath: spec.basePath, overrides: point.overrides(of: spec)).config)
            } catch let error as SpecError {
                problems += error.diagnostics.map { var d = $0; d.message = "point \(point.id): " + d.message; return d }
            } catch {
                problems.append(Diagnostic("point \(point.id): \(error)", at: SourceLocation(file: spec.file)))
            }
        }
        if !problems.isEmpty {
            throw UserError(problems + [Diagnostic("\(problems.count) of \(points.count) points do not load",
                                                   at: SourceLocation(file: spec.file))])
        }
        return configs
    }

    /// CPUs per array task: `requested` (`--cpus-per-task`), else the largest `train.threads` of the points'
    /// configs, else `defaultCPUsPerTask`.
    public static func cpusPerTask(requested: Int?, configs: [RunConfig]) -> Int {
        if let requested { return requested }
        let configured = configs.map(\.train.threads).max() ?? 0
        return configured > 0 ? configured : defaultCPUsPerTask
    }

    /// Writes the sweep's Slurm job-array script (`slurm.sh`, executable) into its folder and returns it.
    public func writeSlurmScript(executable: String, workingDirectory: URL, cpusPerTask: Int, options: [SlurmOption],
                                 requeue: Bool, ranks: SlurmRanks = .single) throws -> URL {
        let script = SlurmScript.text(plan: self, executable: executable, workingDirectory: workingDirectory,
                                      cpusPerTask: cpusPerTask, options: spec.slurmOptions + options, requeue: requeue, ranks: ranks)
        let url = folder.appendingPathComponent("slurm.sh")
        try AtomicFile.write(script, to: url)
        chmod(url.path, 0o755)
        return url
    }

    /// `--collect`: the results table of the points' run folders; an error when no point has one yet.
    public func collectedResults(relativeTo workingDirectory: URL) throws -> SweepResultsTable {
        let table = results(relativeTo: workingDirectory)
        guard table.rows.contains(where: { $0.result.status != .notStarted }) else {
            throw UserError("none of the \(points.count) points of sweep '\(spec.name)' has a run folder in \(folder.path)",
                            file: spec.file, hint: "run the sweep (or submit its slurm.sh) first")
        }
        return table
    }

    /// Most folders above the sweep file searched for its sweep folder (a guard against symlink loops).
    static let largestSearchDepth = 64

    /// The folder a sweep ran in (the one holding `runs/sweeps/<name>`): `current`, else the nearest folder
    /// above the sweep file that holds it (a sweep file lives in the project it runs in).
    public static func locateWorkingDirectory(_ spec: SweepSpec, from current: URL) throws -> URL {
        let relative = "runs/sweeps/" + spec.name
        let manager = FileManager.default
        var candidates = [current]
        var folder = URL(fileURLWithPath: spec.file, relativeTo: current).standardizedFileURL.deletingLastPathComponent()
        while true {
            candidates.append(folder)
            let parent = folder.deletingLastPathComponent()
            if parent.path == folder.path || candidates.count > largestSearchDepth { break }
            folder = parent
        }
        if let found = candidates.first(where: { manager.fileExists(atPath: $0.appendingPathComponent(relative).path) }) {
            return found
        }
        throw UserError("no sweep folder \(relative) in \(current.path) or any folder above the sweep file", file: spec.file,
                        hint: "run `cnnspec sweep \(spec.file)` (or submit its slurm.sh) first, or run --collect from the folder it ran in")
    }
}
