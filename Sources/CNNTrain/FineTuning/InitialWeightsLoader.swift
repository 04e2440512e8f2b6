import CNNSpec
import Foundation

/// `train.init`: copies a checkpoint's tensors into a fresh plan before training (fine-tuning).
///
/// Tensors are matched by PyTorch `state_dict` name. `exclude` names layers (`fc1` drops `fc1.weight`,
/// `fc1.bias`, …) or whole tensor names that keep their seeded initialisation — a new classifier head.
/// With `strict`, a model tensor missing from the file or of another shape is an error naming it;
/// without, such tensors are listed and keep their initialisation. Tensors in the file the model
/// lacks are always listed (never an error: a backbone's checkpoint may hold more).
public enum InitialWeightsLoader {
    /// What was taken and what was not, for the log.
    public struct Outcome: Sendable {
        public var loaded: [String] = []
        public var excluded: [String] = []
        public var skipped: [String] = []
        public var unused: [String] = []

        /// One line per group, e.g. "init: 6 tensors from base.safetensors; excluded fc1.weight, fc1.bias".
        public func lines(file: String) -> [String] {
            var lines = ["init: \(loaded.count) tensor\(loaded.count == 1 ? "" : "s") from \(file)"]
            if !excluded.isEmpty { lines.append("init: excluded (seeded initialisation): \(excluded.joined(separator: ", "))") }
            if !skipped.isEmpty { lines.append("init: skipped (strict: false): \(skipped.joined(separator: "; "))") }
            if !unused.isEmpty { lines.append("init: in the file but not in the model: \(unused.joined(separator: ", "))") }
            return lines
        }
    }

    /// True when tensor `name` belongs to `pattern`: a layer or tensor name, a prefix or a glob (`LayerPattern`).
    static func matches(_ name: String, _ pattern: String) -> Bool { LayerPattern.matches(name, pattern) }

    /// Loads `spec.checkpoint` into `store`. Errors name the file, each offending tensor and what the model needs.
    public static func load(_ spec: InitialWeights, into store: ParameterStore) throws(CheckpointError) -> Outcome {
        let url = URL(fileURLWithPath: spec.checkpoint)
        let contents = try CheckpointFile.read(from: url, key: spec.key)
        let names = Set(store.entries.map(\.name))
        for pattern in spec.exclude where !names.contains(where: { matches($0, pattern) }) {
            throw CheckpointError(path: url.path, problem: "train.init.exclude: '\(pattern)' matches no layer or tensor of the model "
                + "(its layers: \(Set(store.entries.map { $0.name.split(separator: ".").dropLast().joined(separator: ".") }).sorted().joined(separator: ", ")))")
        }
        var outcome = Outcome()
        var problems: [String] = []
        for entry in store.entries {
            if spec.exclude.contains(where: { matches(entry.name, $0) }) { outcome.excluded.append(entry.name); continue }
            switch CheckpointIO.match(entry, in: contents) {
            case .problem(let problem):
                problems.append(problem)
            case .found(let tensor):
                CheckpointIO.copy(tensor, into: store, at: entry)
                outcome.loaded.append(entry.name)
            }
        }
        if !problems.isEmpty {
            if spec.strict {
                throw CheckpointError(path: url.path, problem: problems.joined(separator: "; ")
                    + " — set 'train.init.strict: false' to keep the seeded initialisation for these, or exclude their layers")
            }
            outcome.skipped = problems
        }
        outcome.unused = contents.tensors.keys.filter { !names.contains($0) }.sorted()
        return outcome
    }
}

/// `train.freeze`: layers whose parameters the optimizer must not change.
///
/// The optimizer updates all parameters in one vectorised pass, so freezing is done around it: the
/// frozen ranges are copied before the step and written back after it (momentum, weight decay and
/// Adam moments then cannot move them either). The backward pass still computes their weight
/// gradients; skipping that work needs the executor to know which layers are frozen (see docs/run-config.md).
public final class FrozenParameters {
    /// (offset, count) ranges in the parameter buffer.
    private let ranges: [(offset: Int, count: Int)]
    /// The frozen values during a step, preallocated so a step allocates nothing.
    private let saved: AlignedBuffer<Float>
    private let store: ParameterStore
    public let tensorNames: [String]

    /// Errors name a frozen layer the model does not have (or one without parameters).
    public init(layers: [String], store: ParameterStore) throws(FineTuningError) {
        self.store = store
        var ranges: [(Int, Int)] = []
        var names: [String] = []
        for layer in layers {
            let entries = store.entries.filter { $0.isTrainable && InitialWeightsLoader.matches($0.name, layer) }
            guard !entries.isEmpty else {
                let layers = Set(store.entries.filter(\.isTrainable).map { $0.name.split(separator: ".").dropLast().joined(separator: ".") }).sorted()
                throw FineTuningError("train.freeze: '\(layer)' matches no layer with parameters (layers with parameters: \(layers.joined(separator: ", ")))")
            }
            for entry in entries { ranges.append((entry.offset, entry.count)); names.append(entry.name) }
        }
        self.ranges = ranges
        tensorNames = names
        saved = AlignedBuffer(count: ranges.reduce(0) { $0 + $1.1 })
    }

    public var isEmpty: Bool { ranges.isEmpty }

    /// Zeroes the frozen parameters' gradients (so gradient clipping's global norm leaves them out, as
    /// PyTorch's frozen parameters have no gradient).
    public func zeroGradients() {
        for (offset, count) in ranges { (store.gradients.pointer + offset).update(repeating: 0, count: count) }
    }

    /// Runs `step` (the optimizer update) and puts the frozen parameters back as they were.
    public func around(_ step: () -> Void) {
        guard !ranges.isEmpty else { return step() }
        var position = 0
        for (offset, count) in ranges {
            (saved.pointer + position).update(from: store.values.pointer + offset, count: count)
            position += count
        }
        step()
        position = 0
        for (offset, count) in ranges {
            (store.values.pointer + offset).update(from: saved.pointer + position, count: count)
            position += count
        }
    }
}

/// A `train.freeze` that does not fit the model.
public struct FineTuningError: UserFacingError, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var diagnostics: [Diagnostic] { [Diagnostic(message, at: nil)] }
}
