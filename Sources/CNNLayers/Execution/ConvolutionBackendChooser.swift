import CNNKernels
import CNNSpec

/// Builds a convolution layer's kernel on the requested backend, or for `auto` on the fastest backend
/// measured on the layer's real shapes.
///
/// `auto` first rules candidates out without building them: a backend that cannot run the geometry (its
/// memory statement is nil), one whose multiply-adds exceed `flopRatioLimit` × the cheapest candidate's
/// (the Toeplitz matrix's product at a 64×64 input), or one whose memory exceeds `memoryRatioLimit` × the
/// smallest and `memoryFloorBytes`. Timings of the rest come from the per-user cache (`AutoBackendTuning`)
/// when this layer shape was timed before, else are measured and stored.
struct ConvolutionBackendChooser {
    let layer: String
    let geometry: ConvolutionGeometry
    let gemm: GEMM
    let needsDataGradient: Bool
    /// The timings cache and log of `auto` (the process's, set by the command line; nil: time, say nothing).
    var tuning: AutoBackendTuning? = AutoBackendTuning.shared

    /// A candidate doing more than this many times the multiply-adds of the cheapest one is not timed.
    static let flopRatioLimit = 4.0
    /// A candidate needing more than this many times the memory of the leanest one (and more than
    /// `memoryFloorBytes`) is not timed.
    static let memoryRatioLimit = 8.0
    static let memoryFloorBytes = 64.0 * 1024 * 1024

    func choose(_ request: BackendRequest) throws -> (kernel: any ConvolutionKernel, selection: BackendSelection) {
        switch request {
        case .fixed(let kind):
            do {
                let kernel = try makeConvolution(kind, geometry: geometry, gemm: gemm)
                return (kernel, BackendSelection(layer: layer, chosen: kind, algorithm: kernel.algorithm, requested: request,
                                                 timings: []))
            } catch {
                throw PlanError.backendUnavailable(layer: layer, backend: kind.rawValue, reason: "\(error)")
            }
        case .auto:
            return try chooseAutomatically()
        }
    }

    /// Which candidates auto times, and why the others are not.
    func screen() -> (candidates: [ConvolutionBackendKind], notes: [ConvolutionBackendKind: String]) {
        var notes: [ConvolutionBackendKind: String] = [:]
        var estimates: [(kind: ConvolutionBackendKind, flops: Double, bytes: Double)] = []
        for kind in ConvolutionBackendKind.allCases {
            guard let memory = kind.memory(geometry: geometry, threads: gemm.pool.threadCount) else {
                // The statement is nil exactly when building throws, before it allocates: that error says why.
                do { _ = try makeConvolution(kind, geometry: geometry, gemm: gemm); notes[kind] = "cannot run this layer" } catch {
                    notes[kind] = "\(error)"
                }
                continue
            }
            estimates.append((kind, kind.estimatedFLOPs(geometry, needsDataGradient: needsDataGradient), memory.totalBytes))
        }
        guard let cheapest = estimates.min(by: { $0.flops < $1.flops }),
              let leanest = estimates.min(by: { $0.bytes < $1.bytes }) else { return ([], notes) }
        var candidates: [ConvolutionBackendKind] = []
        for estimate in estimates {
            let flopRatio = estimate.flops / max(cheapest.flops, 1)
            if flopRatio > Self.flopRatioLimit {
                notes[estimate.kind] = String(format: "ruled out: %.0f× the multiply-adds of %@", flopRatio, cheapest.kind.rawValue)
            } else if estimate.bytes > Self.memoryRatioLimit * leanest.bytes && estimate.bytes > Self.memoryFloorBytes {
                notes[estimate.kind] = String(format: "ruled out: %.0f MiB of kernel memory against %.0f MiB for %@",
                                              estimate.bytes / 1_048_576, leanest.bytes / 1_048_576, leanest.kind.rawValue)
            } else {
                candidates.append(estimate.kind)
            }
        }
        return (candidates, notes)
    }

    private func chooseAutomatically() throws -> (kernel: any ConvolutionKernel, selection: BackendSelection) {
        let (candidates, notes) = screen()
        let key = AutoBackendTuning.key(geometry, needsDataGradient: needsDataGradient, target: gemm.target,
                                        threads: gemm.pool.threadCount)
        let cached = tuning?.timings(for: key, backends: candidates)
        var measured: [ConvolutionBackendKind: Double] = cached ?? [:]
        var kernels: [ConvolutionBackendKind: any ConvolutionKernel] = [:]
        var refused = notes
        if cached == nil {
            if let tuning {
                let ruledOut = notes.filter { $0.value.hasPrefix("ruled out") }
                    .map { "\($0.key.rawValue) \($0.value)" }.sorted()
                tuning.log("auto backend \(layer): timing \(candidates.map(\.rawValue).joined(separator: ", "))"
                           + (ruledOut.isEmpty ? "" : " (\(ruledOut.joined(separator: "; ")))"))
            }
            let timer = BackendTimer(geometry: geometry, needsDataGradient: needsDataGradient)
            for kind in candidates {
                do {
                    let kernel = try makeConvolution(kind, geometry: geometry, gemm: gemm)
                    measured[kind] = timer.measure(kernel)
                    kernels[kind] = kernel
                } catch {
                    refused[kind] = "\(error)"
                }
            }
            if measured.count == candidates.count { tuning?.store(measured, for: key) }
        }
        guard let fastest = measured.min(by: { $0.value < $1.value || ($0.value == $1.value && $0.key.order < $1.key.order) })?.key else {
            throw PlanError.backendUnavailable(layer: layer, backend: "auto", reason: "no backend can run it")
        }
        let kernel: any ConvolutionKernel
        if let built = kernels[fastest] { kernel = built } else {
            kernel = try makeConvolution(fastest, geometry: geometry, gemm: gemm)
        }
        let timings: [(backend: ConvolutionBackendKind, milliseconds: Double?, note: String?)] = ConvolutionBackendKind.allCases.map { kind in
            (backend: kind, milliseconds: measured[kind], note: refused[kind] ?? (cached != nil && measured[kind] != nil ? "cached" : nil))
        }
        return (kernel, BackendSelection(layer: layer, chosen: fastest, algorithm: kernel.algorithm, requested: .auto,
                                         timings: timings))
    }
}

extension ConvolutionBackendKind {
    /// Position in `allCases`: ties between equal timings go to the earlier backend, so picks are stable.
    var order: Int { Self.allCases.firstIndex(of: self) ?? 0 }
}

extension ConvolutionBackendKind {
    /// Floating-point operations of one training step's convolution passes at `geometry.batch` images —
    /// forward, weight gradient and, with `needsDataGradient`, data gradient — as this backend computes them.
    /// What `auto` compares before timing anything: a backend far above the cheapest is not worth timing.
    public func estimatedFLOPs(_ geometry: ConvolutionGeometry, needsDataGradient: Bool) -> Double {
        let g = geometry
        let outputs = Double(g.batch) * Double(g.outChannels) * Double(g.outHeight) * Double(g.outWidth)
        let perOutput = Double(g.inChannels / max(g.groups, 1)) * Double(g.kernelHeight) * Double(g.kernelWidth)
        let direct = 2 * outputs * perOutput
        let passes: Double = needsDataGradient ? 3 : 2
        switch self {
        case .direct, .im2col, .depthwise:
            return direct * passes
        case .winograd:
            // F(2×2, 3×3): 16 multiply-adds per 2×2 output tile and channel pair instead of 36.
            return direct * passes * 16 / 36
        case .toeplitz:
            // Forward and data gradient are products with the dense [Cout·OH·OW, Cin·H·W] matrix (rebuilt by
            // `prepare` every step); the weight gradient runs the im2col path.
            let matrix = 2 * outputs * Double(g.inChannels) * Double(g.inHeight) * Double(g.inWidth)
            return matrix * (needsDataGradient ? 2 : 1) + direct
        }
    }
}
