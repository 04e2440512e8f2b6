/// The portable fallback for a CPU with none of the instruction sets above (SSE-only x86-64, other
/// architectures): 4-float vectors, which every SIMD ISA has, in a 2×16 tile of 8 accumulators that fits a
/// 16-register file with its 4 B vectors and a broadcast.
enum GenericTarget: KernelTargetSpec {
    static let vectorRegisters = 16
    typealias Vector = SIMD4<Float>
    static let gemmRows = 2
    static let laneTileChannels = 1
    static let laneTilePixels = 2
    static let correlationRows = 1
    static let correlationInputs = 2
    static let wideVectors = 2
    static let wideTaps = 2
    static let gemmColumns = 16
}
