/// One run of a sweep: the values of the varied keys.
public struct SweepPoint: Sendable, Equatable {
    /// Position in the sweep, from 0 (the Slurm array task id).
    public var index: Int
    /// `(key path, value text)` for each varied key, in the sweep's order.
    public var assignments: [Assignment]
    /// Folder name: zero-padded index plus a short slug of the values, e.g. `003-lr0.01-modelB`.
    public var id: String

    public struct Assignment: Sendable, Equatable {
        public var keyPath: String
        public var value: String
    }

    /// The `key.path=value` overrides that make this point's run config: the sweep's fixed overrides,
    /// then the varied keys.
    public func overrides(of spec: SweepSpec) -> [String] {
        spec.overrides + assignments.map { "\($0.keyPath)=\($0.value)" }
    }
}
