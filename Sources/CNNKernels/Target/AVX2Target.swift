/// AVX2 + FMA (16 ymm registers of 8 floats), Haswell to Alder Lake and AMD Zen 1–4: BLIS's Haswell/Zen
/// tile, 6×16 — 12 accumulators, 2 B vectors and a broadcast fill 15 of the 16 registers, and 12
/// independent FMA chains cover 2 ports × 4–5 cycles of latency.
enum AVX2Target: KernelTargetSpec {
    static let vectorRegisters = 16
    typealias Vector = SIMD8<Float>
    static let gemmRows = 6
    static let laneTileChannels = 2
    static let laneTilePixels = 3
    static let correlationRows = 2
    static let correlationInputs = 3
    static let gemmColumns = 16
}
