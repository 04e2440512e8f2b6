/// AVX-512 (32 zmm registers of 16 floats): the 8×32 GEMM tile keeps 16 accumulators, 2 B vectors and a
/// broadcast in 19 registers, and 16 independent FMA chains cover 2 ports × 4 cycles of latency twice over.
enum AVX512Target: KernelTargetSpec {
    static let vectorRegisters = 32
    typealias Vector = SIMD16<Float>
    static let gemmRows = 8
    static let laneTileChannels = 4
    static let laneTilePixels = 4
    static let correlationRows = 4
    static let correlationInputs = 5
    static let wideVectors = 4
    static let wideTaps = 4
    static let gemmColumns = 32
}
