// swift-tools-version:6.0
import Foundation
import PackageDescription

/// The CPU the code is compiled for: the build host (`native`) unless `CNNSPEC_TARGET_CPU` names another
/// LLVM CPU, e.g. `CNNSPEC_TARGET_CPU=haswell swift build -c release` for a binary that uses only AVX2's 16
/// registers, to measure the AVX2 kernel target on an AVX-512 machine (README, "Benchmarks").
let targetCPU = Context.environment["CNNSPEC_TARGET_CPU"].flatMap { $0.isEmpty ? nil : $0 } ?? "native"

/// Kernels are always compiled with optimisation and for the target CPU: without `-target-cpu`
/// Swift lowers `addingProduct` to `fmaf` calls, and unoptimised SIMD code is ~100× slower,
/// which would make even the debug test build unusable for numerics.
/// Kernels generic over their `KernelTarget` are only specialised (tile constants folded, SIMD operations
/// inlined) by whole-module optimisation, which release builds use; `scripts/test` therefore runs the tests
/// on a release build (`swift test -c release -Xswiftc -enable-testing`). A debug build runs them correctly
/// but unspecialised, far slower.
let kernelSettings: [SwiftSetting] = [
    .unsafeFlags(["-target-cpu", targetCPU]),
    .unsafeFlags(["-O"], .when(configuration: .debug)),
    .unsafeFlags(["-Ounchecked"], .when(configuration: .release)),
]
let hostCPU: [SwiftSetting] = [.unsafeFlags(["-target-cpu", targetCPU])]

/// Open MPI (Debian's `libopenmpi-dev`) for data-parallel training (`mpirun -np N cnnspec run …`,
/// docs/distributed.md). Optional: built in (the `CMPI` target and `-D CNNSPEC_MPI`) only when its pkg-config
/// file is installed; without it cnnspec builds and trains single-process. `CNNSPEC_MPI=0` leaves it out even
/// when installed (how CI proves the build without MPI), `CNNSPEC_MPI=1` insists on it.
let mpiPackage = "ompi-c"
let mpiRequest = Context.environment["CNNSPEC_MPI"] ?? ""
let mpiInstalled: Bool = {
    let defaults = ["/usr/lib/x86_64-linux-gnu/pkgconfig", "/usr/lib/aarch64-linux-gnu/pkgconfig", "/usr/lib/pkgconfig",
                    "/usr/share/pkgconfig", "/usr/local/lib/pkgconfig", "/opt/homebrew/lib/pkgconfig"]
    let extra = (Context.environment["PKG_CONFIG_PATH"] ?? "").split(separator: ":").map(String.init)
    return (extra + defaults).contains { FileManager.default.fileExists(atPath: $0 + "/" + mpiPackage + ".pc") }
}()
let usesMPI = mpiRequest == "1" || (mpiRequest != "0" && mpiInstalled)
let mpiTargets: [Target] = usesMPI
    ? [.systemLibrary(name: "CMPI", path: "Sources/CMPI", pkgConfig: mpiPackage,
                      providers: [.apt(["libopenmpi-dev", "openmpi-bin"])])]
    : []
let mpiDependency: [Target.Dependency] = usesMPI ? ["CMPI"] : []
let mpiDefine: [SwiftSetting] = usesMPI ? [.define("CNNSPEC_MPI")] : []

let package = Package(
    name: "cnnspec",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "cnnspec", targets: ["cnnspec"]),
        .library(name: "CNNSpec", targets: ["CNNSpec"]),
        .library(name: "CNNKernels", targets: ["CNNKernels"]),
        .library(name: "CNNLayers", targets: ["CNNLayers"]),
        .library(name: "CNNTrain", targets: ["CNNTrain"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // The runtime of the committed, protoc-generated onnx.pb.swift (no plugin at build time).
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CYAML", path: "Sources/CYAML", pkgConfig: "yaml-0.1",
            providers: [.apt(["libyaml-dev"])]),
        .systemLibrary(
            name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]),
        /// Image decoding by the system libraries (libpng's simplified `png_image` API needs no setjmp shim).
        .systemLibrary(
            name: "CPNG", path: "Sources/CPNG", pkgConfig: "libpng",
            providers: [.apt(["libpng-dev"])]),
        .systemLibrary(
            name: "CTurboJPEG", path: "Sources/CTurboJPEG", pkgConfig: "libturbojpeg",
            providers: [.apt(["libturbojpeg0-dev"])]),
        /// Zip archives (PyTorch's `torch.save` format) read by the system's libzip.
        .systemLibrary(
            name: "CZip", path: "Sources/CZip", pkgConfig: "libzip",
            providers: [.apt(["libzip-dev"])]),
        /// Counts heap allocations (overrides malloc for the process it is linked into): for `cnnspec time`
        /// and the zero-allocation tests.
        .target(name: "CAllocationCounter"),
        /// CPUID/XGETBV (which kernel target the CPU runs), the OS's cache sizes, and the FMA-peak loop in
        /// the host's widest vectors (`KernelTarget`, `FMAPeak`).
        .target(name: "CKernelTarget", cSettings: [.unsafeFlags(["-O2"])]),
        /// YAML model specs and run configs → validated graph with inferred shapes. No numerics.
        .target(name: "CNNSpec", dependencies: ["CYAML", "CNNKernels"]),
        /// SIMD kernels over raw Float32 buffers. Knows nothing about YAML or models.
        .target(name: "CNNKernels", dependencies: ["CKernelTarget"], swiftSettings: kernelSettings),
        /// The layer kinds, one file each: YAML keys, shape rule, parameters, and the layer that runs it
        /// on the kernels; plus the building blocks layers are made of (parameter store, wiring).
        .target(name: "CNNLayers", dependencies: ["CNNSpec", "CNNKernels"], swiftSettings: hostCPU),
        /// Data loading, executor, training loop, checkpoints.
        .target(name: "CNNTrain", dependencies: ["CNNSpec", "CNNKernels", "CNNLayers", "CZlib", "CPNG", "CTurboJPEG", "CZip"] + mpiDependency,
                swiftSettings: hostCPU + mpiDefine),
        /// Export to ONNX (protobuf, generated from onnx.proto3) and to a PyTorch module file; reference logits.
        .target(name: "CNNExport", dependencies: ["CNNSpec", "CNNLayers", "CNNTrain",
                                                  .product(name: "SwiftProtobuf", package: "swift-protobuf")],
                swiftSettings: hostCPU),
        .executableTarget(
            name: "cnnspec",
            dependencies: ["CNNSpec", "CNNKernels", "CNNLayers", "CNNTrain", "CNNExport", "CAllocationCounter",
                           .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: hostCPU),
        .executableTarget(name: "cnnspec-bench", dependencies: ["CNNKernels"], swiftSettings: kernelSettings),
        /// Loads `Tests/Fixtures/pytorch/*.json` (PyTorch's outputs, committed) for the test targets.
        .target(name: "PyTorchFixtures", path: "Tests/PyTorchFixtures"),
        .testTarget(name: "CNNSpecTests", dependencies: ["CNNSpec", "CNNLayers"]),
        .testTarget(name: "CNNKernelsTests", dependencies: ["CNNKernels", "PyTorchFixtures", "CAllocationCounter"], swiftSettings: hostCPU),
        .testTarget(name: "CNNExportTests", dependencies: ["CNNExport", "CNNTrain", "CNNSpec", "CNNLayers",
                                                          .product(name: "SwiftProtobuf", package: "swift-protobuf")],
                    swiftSettings: hostCPU),
        .testTarget(name: "CNNTrainTests", dependencies: ["CNNTrain", "CNNSpec", "CNNKernels", "CNNLayers", "PyTorchFixtures", "CAllocationCounter"],
                    swiftSettings: hostCPU),
    ] + mpiTargets
)
