/// A named group of benchmarks that prints its own table.
struct BenchmarkSuite: Sendable {
    let name: String
    let run: @Sendable () -> Void
}

/// Every suite the bench executable knows, in the order they run.
enum BenchmarkRegistry {
    static let all: [BenchmarkSuite] = [PeakBenchmarks.suite, GEMMBenchmarks.suite, ResNetGEMMBenchmarks.suite, ConvolutionBenchmarks.suite,
                                        DepthwiseBenchmarks.suite, ElementwiseBenchmarks.suite, PoolBenchmarks.suite]
}
