import CNNKernels
import CNNSpec

/// PyTorch's default initialisation as each operation declares it, reproducible from a seed.
public enum ParameterInitializer {
    public static func initialize(_ store: ParameterStore, seed: UInt64) {
        var generator = SeededGenerator(seed: seed ^ 0x9E37_79B9_7F4A_7C15)
        for entry in store.entries {
            guard let pointer = store.pointer(entry.name) else { continue }  // invariant: every entry has storage
            switch entry.initialization {
            case .uniform(let fanIn):
                let bound = fanIn > 0 ? 1 / Float(fanIn).squareRoot() : 0
                for index in 0..<entry.count {
                    pointer[index] = Float.random(in: -bound..<bound, using: &generator)
                }
            case .constant(let value):
                pointer.update(repeating: value, count: entry.count)
            }
        }
    }
}
