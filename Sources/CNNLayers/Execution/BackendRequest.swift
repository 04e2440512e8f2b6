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

    /// One log line: `conv2: im2col/per image, avx2 6×16 (auto: direct 3.10 ms, im2col 1.20 ms, toeplitz ruled out: 31× the
    /// multiply-adds of direct, depthwise unavailable)`; `auto, cached timings:` when they came from the cache.
    public var summary: String {
        guard requested == .auto else { return "\(layer): \(algorithm)" }
        let parts = timings.map { entry in
            if let milliseconds = entry.milliseconds { return "\(entry.backend.rawValue) \(String(format: "%.2f", milliseconds)) ms" }
            if let note = entry.note, note.hasPrefix("ruled out") { return "\(entry.backend.rawValue) \(note)" }
            return "\(entry.backend.rawValue) unavailable"
        }
        let cached = timings.contains { $0.note == "cached" }
        return "\(layer): \(algorithm) (auto\(cached ? ", cached timings" : ""): \(parts.joined(separator: ", ")))"
    }
}

import Foundation
