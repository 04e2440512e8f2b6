/// Benchmarks of the Elementwise kernels.
enum ElementwiseBenchmarks {
    static let suite = BenchmarkSuite(name: "elementwise") {}
}
