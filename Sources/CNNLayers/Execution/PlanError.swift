/// Why a graph could not be compiled into a plan.
public enum PlanError: Error, CustomStringConvertible, Sendable {
    case missingParameter(String)
    case unknownBackend(layer: String, name: String)
    case backendUnavailable(layer: String, backend: String, reason: String)
    case unsupported(layer: String, reason: String)

    public var description: String {
        switch self {
        case .missingParameter(let name):
            return "internal: parameter '\(name)' was not laid out"
        case .unknownBackend(let layer, let name):
            return "\(layer): unknown convolution backend '\(name)'; valid: direct, im2col, toeplitz, auto"
        case .backendUnavailable(let layer, let backend, let reason):
            return "\(layer): backend '\(backend)' cannot run this layer: \(reason)"
        case .unsupported(let layer, let reason):
            return "\(layer): \(reason)"
        }
    }
}
