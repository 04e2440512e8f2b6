import CNNKernels

/// Which convolution backend a layer should use: a fixed one, or the fastest measured at start-up.
///
/// The kernel library's backend list is the one definition: a new backend is valid in configs and model
/// files as soon as `ConvolutionBackendKind` has it.
public enum BackendRequest: Hashable, Sendable, CustomStringConvertible, CaseIterable, RawRepresentable {
    case fixed(ConvolutionBackendKind)
    case auto

    public static var allCases: [BackendRequest] { [.auto] + ConvolutionBackendKind.allCases.map { .fixed($0) } }

    public init?(rawValue: String) { self.init(name: rawValue) }

    /// `auto`, `direct`, `im2col`, …
    public var rawValue: String { description }

    /// Parses `direct`, `im2col`, `toeplitz` or `auto`.
    public init?(name: String) {
        if name == "auto" { self = .auto; return }
        guard let kind = ConvolutionBackendKind(rawValue: name) else { return nil }
        self = .fixed(kind)
    }

    public var description: String {
        switch self {
        case .fixed(let kind): return kind.rawValue
        case .auto: return "auto"
        }
    }
}

