import CNNKernels
import Foundation

/// `cnnspec-bench [SUITE…]`: kernel benchmarks (release build). Suites: peak, gemm, gemm-resnet, conv, depthwise, elementwise, pool.
let suites = BenchmarkRegistry.all
let requested = Array(CommandLine.arguments.dropFirst())
let unknown = requested.filter { name in !suites.contains { $0.name == name } }
if !unknown.isEmpty {
    let names = suites.map(\.name).joined(separator: ", ")
    FileHandle.standardError.write(Data("cnnspec-bench: unknown suite \(unknown.joined(separator: ", ")); choose from: \(names)\n".utf8))
    exit(2)
}
print("cnnspec-bench — CNNKernels \(KernelLibrary.version), \(ProcessInfo.processInfo.activeProcessorCount) cores")
for suite in suites where requested.isEmpty || requested.contains(suite.name) {
    print("\n## \(suite.name)")
    suite.run()
}
