/// Benchmarks of the Convolution kernels.
enum ConvolutionBenchmarks {
    static let suite = BenchmarkSuite(name: "convolution") {}
}
