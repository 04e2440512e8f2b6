import Foundation

/// A sweep file: a base run config, fixed overrides, and the config keys to vary.
public struct SweepSpec: Sendable {
    /// Most points a sweep may have (random `samples`, or a grid's product of list lengths): each point
    /// is a whole training run with its own folder, so ten thousand is already far beyond one machine,
    /// and the bound keeps a typo (`samples: 1000000000`) from expanding billions of points in memory.
    public static let largestPointCount = 10_000
    /// Names the sweep folder `runs/sweeps/<name>`; defaults to the sweep file's name.
    public var name: String
    /// The sweep file, as given (used in messages).
    public var file: String
    /// The base run config as given in the file (relative to the sweep file).
    public var base: String
    /// The base run config made absolute.
    public var basePath: String
    public var mode: SweepMode
    /// Number of points in random mode.
    public var samples: Int
    /// Seed of the random sampler (random mode).
    public var seed: UInt64
    /// What the results table is ranked by.
    public var metric: SweepMetric
    /// `key.path=value` overrides applied to every point before the varied keys.
    public var overrides: [String]
    /// The varied keys, in file order (in a grid the last one varies fastest).
    public var parameters: [SweepParameter]
    /// Where `base:` is written (for errors about the base config itself).
    public var baseLocation: SourceLocation?
    /// Extra `#SBATCH --KEY=VALUE` lines for `--emit slurm` (the file's `slurm:` section), in file order.
    public var slurmOptions: [SlurmOption] = []
}

/// One `#SBATCH --key=value` option (`--key` alone when the value is empty).
public struct SlurmOption: Sendable, Equatable {
    public var key: String
    public var value: String
    public init(key: String, value: String) { self.key = key; self.value = value }

    /// Why `key`/`value` cannot go into an `#SBATCH` line, or nil: keys are sbatch long option names
    /// (letters, digits, '-'), values a single line without quotes or shell metacharacters.
    public static func problem(key: String, value: String) -> String? {
        if key.isEmpty || key.hasPrefix("-") || !key.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" }) || !key.unicodeScalars.allSatisfy(\.isASCII) {
            return "'\(key)' is not an sbatch option name (e.g. partition, time, mem, account)"
        }
        let unsafe = CharacterSet(charactersIn: "\n\r\"'`$\\;&|<>").union(.controlCharacters)
        if value.unicodeScalars.contains(where: unsafe.contains) {
            return "the value of '\(key)' must be one line without quotes or shell characters"
        }
        if ["array", "output", "chdir", "job-name", "signal"].contains(key) {
            return "'\(key)' is set by cnnspec itself"
        }
        return nil
    }

    /// Parses `KEY=VALUE` (or `KEY`) as given to `--slurm-option`.
    public init?(argument: String) {
        let parts = argument.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
        let key = parts[0].trimmingCharacters(in: .whitespaces)
        let value = parts.count > 1 ? String(parts[1]) : ""
        guard SlurmOption.problem(key: key, value: value) == nil else { return nil }
        self.init(key: key, value: value)
    }
}

/// How a sweep picks its points.
public enum SweepMode: String, CaseIterable, Sendable {
    /// Every combination of the listed values.
    case grid
    /// `samples` points drawn with a seeded generator.
    case random
}

/// The figure a sweep's results table is ranked by.
public enum SweepMetric: String, CaseIterable, Sendable {
    case bestValidationAccuracy = "best_validation_accuracy"
    case testAccuracy = "test_accuracy"
    case bestValidationLoss = "best_validation_loss"
    case testLoss = "test_loss"

    /// True for accuracies, false for losses.
    public var higherIsBetter: Bool { self == .bestValidationAccuracy || self == .testAccuracy }
}

/// One varied config key and the values it may take.
public struct SweepParameter: Sendable {
    /// Dotted key path into the run config, e.g. `train.optimizer.lr`.
    public var keyPath: String
    public var domain: SweepDomain
    /// Where the key is written in the sweep file.
    public var location: SourceLocation
}

/// The values of a varied key.
public enum SweepDomain: Sendable, Equatable {
    /// Listed values (YAML text as written); a grid axis, or a uniform choice in random mode.
    case values([String])
    /// A number drawn uniformly from the range (random mode only).
    case uniform(ClosedRange<Double>)
    /// A number whose logarithm is drawn uniformly from the range's logarithms (random mode only).
    case logUniform(ClosedRange<Double>)
}
