import CNNKernels
import CNNSpec

/// PyTorch's default initialisation, reproducible from a seed.
///
/// Conv and linear weights: kaiming_uniform(a = √5), i.e. U(−1/√fan_in, 1/√fan_in); biases the same
/// bound; batch norm weight 1, bias 0, running mean 0, running variance 1.
public enum ParameterInitializer {
    public static func initialize(_ store: ParameterStore, graph: ModelGraph, seed: UInt64) {
        var generator = SeededGenerator(seed: seed ^ 0x9E37_79B9_7F4A_7C15)
        for node in graph.nodes {
            switch node.op {
            case .conv2d(let conv):
                let fanIn = conv.inChannels * conv.kernel.height * conv.kernel.width
                fillUniform(store, node.name + ".weight", fanIn: fanIn, &generator)
                fillUniform(store, node.name + ".bias", fanIn: fanIn, &generator)
            case .linear(let inFeatures, _, _):
                fillUniform(store, node.name + ".weight", fanIn: inFeatures, &generator)
                fillUniform(store, node.name + ".bias", fanIn: inFeatures, &generator)
            case .batchNorm2d:
                fill(store, node.name + ".weight", 1)
                fill(store, node.name + ".bias", 0)
                fill(store, node.name + ".running_mean", 0)
                fill(store, node.name + ".running_var", 1)
                fill(store, node.name + ".num_batches_tracked", 0)
            default:
                break
            }
        }
    }

    private static func fillUniform(_ store: ParameterStore, _ name: String, fanIn: Int, _ generator: inout SeededGenerator) {
        guard let entry = store.entry(name), let pointer = store.pointer(name) else { return }
        let bound = fanIn > 0 ? 1 / Float(fanIn).squareRoot() : 0
        for index in 0..<entry.count {
            pointer[index] = Float.random(in: -bound..<bound, using: &generator)
        }
    }

    private static func fill(_ store: ParameterStore, _ name: String, _ value: Float) {
        guard let entry = store.entry(name), let pointer = store.pointer(name) else { return }
        pointer.update(repeating: value, count: entry.count)
    }
}
