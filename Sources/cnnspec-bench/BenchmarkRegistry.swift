/// A named group of benchmarks that prints its own table.
struct BenchmarkSuite: Sendable {
    let name: String
    /// What it measures, for `--help`.
    let summary: String
    let run: @Sendable () -> Void
}

/// Every suite the bench executable knows, in the order they run.
enum BenchmarkRegistry {
    static let all: [BenchmarkSuite] = [PeakBenchmarks.suite, GEMMBenchmarks.suite, ResNetGEMMBenchmarks.suite, ResNetConvolutionBenchmarks.suite,
                                        ConvolutionBenchmarks.suite,
                                        DepthwiseBenchmarks.suite, ElementwiseBenchmarks.suite, ThreadPoolBenchmarks.suite]
}

extension BenchmarkRegistry {
    /// The `--help` text.
    static var usage: String {
        let width = (all.map(\.name.count).max() ?? 0) + 2
        return """
            usage: cnnspec-bench [SUITE…]

            Kernel benchmarks (build with -c release). Without a suite every suite runs, in this order:

            """ + all.map { "  " + $0.name.padding(toLength: width, withPad: " ", startingAt: 0) + $0.summary }.joined(separator: "\n")
            + "\n\nResults are recorded in docs/kernels-benchmarks.md.\n"
    }
}
