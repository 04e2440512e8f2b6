import CNNKernels
import CNNSpec

/// Builds a convolution layer's kernel on the requested backend, or for `auto` on the fastest backend
/// measured on the layer's real shapes (backends that cannot run the geometry are skipped).
struct ConvolutionBackendChooser {
    let layer: String
    let geometry: ConvolutionGeometry
    let gemm: GEMM
    let needsDataGradient: Bool

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
            let timer = BackendTimer(geometry: geometry, needsDataGradient: needsDataGradient)
            var best: (kernel: any ConvolutionKernel, milliseconds: Double)?
            var timings: [(backend: ConvolutionBackendKind, milliseconds: Double?, note: String?)] = []
            for kind in ConvolutionBackendKind.allCases {
                do {
                    let kernel = try makeConvolution(kind, geometry: geometry, gemm: gemm)
                    let milliseconds = timer.measure(kernel)
                    timings.append((kind, milliseconds, nil))
                    if milliseconds < best?.milliseconds ?? .infinity { best = (kernel, milliseconds) }
                } catch {
                    timings.append((kind, nil, "\(error)"))
                }
            }
            guard let best else {
                throw PlanError.backendUnavailable(layer: layer, backend: "auto", reason: "no backend can run it")
            }
            return (best.kernel, BackendSelection(layer: layer, chosen: best.kernel.kind, algorithm: best.kernel.algorithm,
                                                  requested: .auto, timings: timings))
        }
    }
}
