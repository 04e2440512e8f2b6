import CNNKernels
import Foundation

/// `cnnspec-bench [SUITE…]`: kernel benchmarks (release build); `--help` lists the suites.
let suites = BenchmarkRegistry.all
let requested = Array(CommandLine.arguments.dropFirst())
if requested.contains(where: { ["--help", "-h", "help"].contains($0) }) {
    print(BenchmarkRegistry.usage, terminator: "")
    exit(0)
}
let unknown = requested.filter { name in !suites.contains { $0.name == name } }
if !unknown.isEmpty {
    let names = suites.map(\.name).joined(separator: ", ")
    FileHandle.standardError.write(Data("cnnspec-bench: unknown suite \(unknown.joined(separator: ", ")); choose from: \(names) (or --help)\n".utf8))
    exit(2)
}
let cores = ProcessInfo.processInfo.activeProcessorCount
print("cnnspec-bench — CNNKernels \(KernelLibrary.version), \(cores) core\(cores == 1 ? "" : "s")")
for suite in suites where requested.isEmpty || requested.contains(suite.name) {
    print("\n## \(suite.name)")
    suite.run()
}
