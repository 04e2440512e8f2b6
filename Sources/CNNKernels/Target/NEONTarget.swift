/// NEON (32 q registers of 4 floats): Apple M-series, AWS Graviton, Neoverse. The 6×16 tile keeps 24
/// accumulators, 4 B vectors and 1–2 A registers in 30 of the 32 registers; 24 independent FMA chains
/// cover Apple's 4 FMA pipes × 4 cycles (16 in flight) and Neoverse V1/V2's 4 × 4 (N1: 2 × 4).
/// docs/kernels-benchmarks.md gives the reasoning; no arm64 toolchain is at hand here, so this target is
/// tested on x86-64 only, where its 4-float vectors run correctly but slowly.
enum NEONTarget: KernelTargetSpec {
    static let vectorRegisters = 32
    typealias Vector = SIMD4<Float>
    static let gemmRows = 6
    static let laneTileChannels = 2
    static let laneTilePixels = 3
    static let correlationRows = 2
    static let correlationInputs = 3
    static let wideVectors = 4
    static let wideTaps = 4
    static let gemmColumns = 16
}
