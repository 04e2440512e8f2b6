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
