/// AVX2 + FMA (16 ymm registers of 8 floats), Haswell to Alder Lake and AMD Zen 1–4: BLIS's Haswell/Zen
/// tile, 6×16 — 12 accumulators, 2 B vectors and a broadcast fill 15 of the 16 registers, and 12
/// independent FMA chains cover 2 ports × 4–5 cycles of latency.
/// Lane tile 2 channels × 2 pixels: a 16-image lane vector is 2 ymm, so 8 accumulators, 2 pixels' input
/// halves and 2 broadcasts; the 2 × 3 tile (12 accumulators) spilled accumulators to the stack inside its tap
/// loop in the release build's disassembly. The wide tiles hold 8 accumulators the same way.
enum AVX2Target: KernelTargetSpec {
    static let vectorRegisters = 16
    typealias Vector = SIMD8<Float>
    static let gemmRows = 6
    static let laneTileChannels = 2
    static let laneTilePixels = 2
    static let correlationRows = 2
    static let correlationInputs = 3
    static let wideVectors = 2
    static let wideTaps = 2
    static let gemmColumns = 16
}
