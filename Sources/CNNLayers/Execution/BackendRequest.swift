import CNNKernels
import CNNSpec

/// What the plan chose for one convolution layer, with the start-up measurements behind an `auto` choice.
public struct BackendSelection: Sendable {
    public var layer: String
    public var chosen: ConvolutionBackendKind
    /// The chosen kernel's whole algorithm (`ConvolutionKernel.algorithm`): layout, variants, kernel target.
    public var algorithm: String
    public var requested: BackendRequest
    /// Milliseconds for forward + backward per candidate (auto only); a reason where a candidate could not run.
    public var timings: [(backend: ConvolutionBackendKind, milliseconds: Double?, note: String?)]

    /// One log line: `conv2: im2col/per image, avx2 6×16 (auto: direct 3.10 ms, im2col 1.20 ms, toeplitz unavailable)`.
    public var summary: String {
        guard requested == .auto else { return "\(layer): \(algorithm)" }
        let parts = timings.map { entry in
            entry.milliseconds.map { "\(entry.backend.rawValue) \(String(format: "%.2f", $0)) ms" }
                ?? "\(entry.backend.rawValue) unavailable"
        }
        return "\(layer): \(algorithm) (auto: \(parts.joined(separator: ", ")))"
    }
}

import Foundation
