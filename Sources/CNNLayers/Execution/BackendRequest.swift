import CNNKernels
import CNNSpec

/// What the plan chose for one convolution layer, with the start-up measurements behind an `auto` choice.
public struct BackendSelection: Sendable {
    public var layer: String
    public var chosen: ConvolutionBackendKind
    public var requested: BackendRequest
    /// Milliseconds for forward + backward per candidate (auto only); a reason where a candidate could not run.
    public var timings: [(backend: ConvolutionBackendKind, milliseconds: Double?, note: String?)]

    /// One log line: `conv2: im2col (auto: direct 3.10 ms, im2col 1.20 ms, toeplitz unavailable)`.
    public var summary: String {
        guard requested == .auto else { return "\(layer): \(chosen.rawValue)" }
        let parts = timings.map { entry in
            entry.milliseconds.map { "\(entry.backend.rawValue) \(String(format: "%.2f", $0)) ms" }
                ?? "\(entry.backend.rawValue) unavailable"
        }
        return "\(layer): \(chosen.rawValue) (auto: \(parts.joined(separator: ", ")))"
    }
}

import Foundation
