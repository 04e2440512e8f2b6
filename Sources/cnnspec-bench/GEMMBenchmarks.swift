/// Benchmarks of the GEMM kernels.
enum GEMMBenchmarks {
    static let suite = BenchmarkSuite(name: "gemm") {}
}
