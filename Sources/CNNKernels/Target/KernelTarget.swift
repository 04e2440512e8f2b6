import CKernelTarget
import Foundation

/// The instruction set the kernels are tiled for: chosen once at start from the CPU (CPUID on x86-64,
/// the compiler on arm64), or by `CNNSPEC_KERNELS=avx512|avx2|neon|generic` for tests and benchmarks.
/// Every target is ordinary Swift SIMD, so a target wider than the host runs slowly but correctly; the
/// tests run each one on every host.
///
/// Each case's tiles live in its own file (`AVX512Target`, `AVX2Target`, `NEONTarget`, `GenericTarget`,
/// each a `KernelTargetSpec`); this enum only names them and chooses one.
public enum KernelTarget: String, CaseIterable, Sendable, CustomStringConvertible {
    case avx512, avx2, neon, generic

    /// The environment variable that overrides the detected target.
    public static let overrideVariable = "CNNSPEC_KERNELS"

    /// The target of this process: `CNNSPEC_KERNELS` when set to a target's name, else `detected`.
    /// An unknown override is reported by `overrideError` (the CLI refuses to start) and ignored here.
    public static let current: KernelTarget = (try? chosen(override: overrideValue)) ?? detected

    /// The value of `CNNSPEC_KERNELS`, nil when unset.
    static var overrideValue: String? { ProcessInfo.processInfo.environment[overrideVariable] }

    /// The target an override value asks for (`detected` when nil or empty); throws the message for a value
    /// that names no target.
    static func chosen(override value: String?) throws(KernelTargetError) -> KernelTarget {
        guard let value, !value.isEmpty else { return detected }
        guard let target = KernelTarget(rawValue: value) else { throw KernelTargetError(value: value) }
        return target
    }

    /// Where `current` came from, for the log: `the CPU's own` or `CNNSPEC_KERNELS=neon on an avx2 CPU`.
    public static var origin: String {
        overrideValue.map { $0.isEmpty } ?? true
            ? "the CPU's own" : "\(overrideVariable)=\(current.rawValue) on an \(detected.rawValue) CPU"
    }

    /// The message for an override that names no target, or nil when it is unset or valid: the CLI refuses
    /// to start on it rather than run another target than the one asked for.
    public static var overrideError: String? {
        do { _ = try chosen(override: overrideValue); return nil } catch { return error.description }
    }

    /// The widest target this CPU runs natively.
    public static let detected: KernelTarget = {
        switch cnnspec_kernel_isa() {
        case CNNSPEC_ISA_AVX512F: return .avx512
        case CNNSPEC_ISA_AVX2_FMA: return .avx2
        case CNNSPEC_ISA_NEON: return .neon
        default: return .generic  // CNNSPEC_ISA_GENERIC: a CPU with none of the instruction sets above
        }
    }()

    /// This target's tiles.
    var spec: any KernelTargetSpec.Type {
        switch self {
        case .avx512: AVX512Target.self
        case .avx2: AVX2Target.self
        case .neon: NEONTarget.self
        case .generic: GenericTarget.self
        }
    }

    /// Floats per vector register.
    public var vectorWidth: Int { spec.vectorWidth }
    /// Runs `visitor` with this target's spec type: the one switch that turns a target value into code
    /// specialised for it.
    @inline(__always)
    func visit<Visitor: KernelTargetVisitor>(_ visitor: Visitor) -> Visitor.Result {
        switch self {
        case .avx512: visitor.visit(AVX512Target.self)
        case .avx2: visitor.visit(AVX2Target.self)
        case .neon: visitor.visit(NEONTarget.self)
        case .generic: visitor.visit(GenericTarget.self)
        }
    }

    /// The lane convolution's tile: output channels × pixels.
    public var laneTile: (channels: Int, pixels: Int) { (spec.laneTileChannels, spec.laneTilePixels) }
    /// The weight-gradient tile: gradient rows × inputs.
    public var correlationTile: (rows: Int, inputs: Int) { (spec.correlationRows, spec.correlationInputs) }

    /// The wide convolution's tiles: vectors of pixels per output channel, and taps per gradient channel.
    public var wideTile: (vectors: Int, taps: Int) { (spec.wideVectors, spec.wideTaps) }

    /// Vector registers of the instruction set.
    public var vectorRegisters: Int { spec.vectorRegisters }
    /// The GEMM register tile.
    public var gemmTile: GEMMTile { GEMMTile(rows: spec.gemmRows, columns: spec.gemmColumns) }
    /// The largest rows and columns of any target's tile: memory bounds that hold whatever the target.
    public static var largestGEMMTile: GEMMTile {
        GEMMTile(rows: allCases.map(\.gemmTile.rows).max() ?? 0, columns: allCases.map(\.gemmTile.columns).max() ?? 0)
    }

    /// The GEMM cache blocking for this host's caches.
    public var blocking: GEMMBlocking { GEMMBlocking(tile: gemmTile, caches: .host) }

    /// C (+)= A_panel · B_panel for one register tile with this target's micro-kernel (`GEMMMicroKernel`):
    /// one switch per tile (`visit`), each arm a kernel specialised for its target.
    @inline(__always)
    func microKernel(k: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>,
                     ldc: Int, rows: Int, columns: Int, overwrite: Bool, cScale: Float, high: Int) {
        visit(GEMMMicroKernel.Call(k: k, a: a, b: b, c: c, ldc: ldc, rows: rows, columns: columns, overwrite: overwrite,
                                   cScale: cScale, high: high))
    }

    /// E.g. `avx2 6×16`: the name and GEMM tile, as the log and `cnnspec time` show it.
    public var description: String { "\(rawValue) \(gemmTile)" }
}

/// A `CNNSPEC_KERNELS` value that names no target.
struct KernelTargetError: Error, CustomStringConvertible {
    let value: String
    var description: String {
        let valid = KernelTarget.allCases.map(\.rawValue).joined(separator: ", ")
        return "\(KernelTarget.overrideVariable)=\(value) is not a kernel target; valid: \(valid) "
            + "(or unset it for this CPU's own, \(KernelTarget.detected.rawValue))"
    }
}

/// What one kernel target declares: its vector type and register tiles. No defaults: a new target states
/// every one.
protocol KernelTargetSpec {
    /// One vector register of floats.
    associatedtype Vector: SIMD where Vector.Scalar == Float
    /// Vector registers of the instruction set: what the tiles must fit in.
    static var vectorRegisters: Int { get }
    /// GEMM register tile: rows of A (broadcast) × columns of B (2 or 4 vectors) held in accumulators.
    static var gemmRows: Int { get }
    static var gemmColumns: Int { get }
    /// The direct convolution's tile with 16 images in the lanes (`LaneConvolution`): output channels ×
    /// output pixels, one 16-lane accumulator each (each is 16 / vectorWidth registers).
    static var laneTileChannels: Int { get }
    static var laneTilePixels: Int { get }
    /// The weight-gradient tile (`CorrelationTile`): gradient rows × shifted inputs, one 16-float accumulator each.
    static var correlationRows: Int { get }
    static var correlationInputs: Int { get }
    /// The "wide" convolution's tiles (`WideConvolution`, one image on the padded grid): 4 output channels ×
    /// `wideVectors` vectors of pixels, and for its weight gradient 4 gradient channels × `wideTaps` taps.
    static var wideVectors: Int { get }
    static var wideTaps: Int { get }
}

/// A computation generic over the kernel target, run with the concrete target by `KernelTarget.visit` so
/// that it is specialised (and its tile constants folded) for each one.
protocol KernelTargetVisitor {
    associatedtype Result
    func visit<Spec: KernelTargetSpec>(_ spec: Spec.Type) -> Result
}

extension KernelTargetSpec {
    /// Floats per vector register: the vector type's width.
    static var vectorWidth: Int { Vector.scalarCount }
}

/// A GEMM register tile: `rows` × `columns` of C in accumulators.
public struct GEMMTile: Equatable, Sendable, CustomStringConvertible {
    public let rows: Int
    public let columns: Int
    public var description: String { "\(rows)×\(columns)" }
}

/// The host's data caches, as the OS reports them (with the common sizes where it reports none).
public struct HostCaches: Sendable {
    public let l1: Int, l2: Int, l3: Int

    /// Sizes assumed when the OS reports none (e.g. macOS, some containers): 32 KiB, 512 KiB, 8 MiB.
    static let fallback = HostCaches(l1: 32 << 10, l2: 512 << 10, l3: 8 << 20)

    public static let host: HostCaches = {
        func read(_ level: Int32, _ fallback: Int) -> Int {
            let bytes = Int(cnnspec_cache_bytes(level))
            return bytes > 0 ? bytes : fallback
        }
        return HostCaches(l1: read(1, fallback.l1), l2: read(2, fallback.l2), l3: read(3, fallback.l3))
    }()
}

/// The GEMM's cache blocking after BLIS: a kc-deep A micro-panel and B micro-panel stay in L1 across the
/// micro-kernel's loop, an mc × kc block of A in L2, and a kc × nc block of B in a core's share of L3.
public struct GEMMBlocking: Equatable, Sendable, CustomStringConvertible {
    /// Depth of one packed slice.
    public let kc: Int
    /// Rows of A per packed block (a multiple of the tile's rows).
    public let mc: Int
    /// Columns of B per packed block (a multiple of the tile's columns).
    public let nc: Int

    /// Share of L1 the two micro-panels may fill (the rest holds C's tile lines and the stack).
    static let l1Share = 0.8
    /// Share of L2 for A's block (B's micro-panel streams through it too).
    static let l2Share = 0.5
    /// Share of a core's L3 for B's block.
    static let l3Share = 0.5
    /// Bounds that keep the packing buffers sane on caches the OS misreports.
    static let kcRange = 64...512, mcLimit = 512, ncRange = 512...4096
    /// kc is rounded down to this many steps (the packing transposes 16 × 16 blocks).
    static let kcStep = 16
    /// Cores that share the L3 the OS reports, as far as cnnspec can tell: the online processors.
    static var coresSharingL3: Int { max(1, ProcessInfo.processInfo.activeProcessorCount) }

    public init(tile: GEMMTile, caches: HostCaches) {
        let floatBytes = MemoryLayout<Float>.size
        let panelBytesPerStep = Double((tile.rows + tile.columns) * floatBytes)
        let kcFit = Int(Double(caches.l1) * GEMMBlocking.l1Share / panelBytesPerStep) / GEMMBlocking.kcStep * GEMMBlocking.kcStep
        kc = min(max(kcFit, GEMMBlocking.kcRange.lowerBound), GEMMBlocking.kcRange.upperBound)
        let mcFit = Int(Double(caches.l2) * GEMMBlocking.l2Share / Double(kc * floatBytes)) / tile.rows * tile.rows
        mc = min(max(mcFit, tile.rows), GEMMBlocking.mcLimit / tile.rows * tile.rows)
        let l3Share = Double(caches.l3 / GEMMBlocking.coresSharingL3) * GEMMBlocking.l3Share
        let ncFit = Int(l3Share / Double(kc * floatBytes)) / tile.columns * tile.columns
        nc = min(max(ncFit, GEMMBlocking.ncRange.lowerBound), GEMMBlocking.ncRange.upperBound)
    }

    public var description: String { "kc \(kc), mc \(mc), nc \(nc)" }
}
