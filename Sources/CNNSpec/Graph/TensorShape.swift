/// The shape of one image's activation (the batch dimension is never included).
public enum TensorShape: Hashable, Sendable, CustomStringConvertible {
    /// A feature map, NCHW without the N.
    case image(channels: Int, height: Int, width: Int)
    /// A flat feature vector, as after `flatten` or `linear`.
    case vector(features: Int)

    /// Number of Float32 elements per image.
    public var elementCount: Int {
        switch self {
        case .image(let c, let h, let w): return c * h * w
        case .vector(let f): return f
        }
    }

    /// `16×28×28` or `1568`.
    public var description: String {
        switch self {
        case .image(let c, let h, let w): return "\(c)×\(h)×\(w)"
        case .vector(let f): return "\(f)"
        }
    }

    /// The dimensions as a list (`[16, 28, 28]` or `[1568]`), as the JSON output writes them.
    public var dimensions: [Int] {
        switch self {
        case .image(let c, let h, let w): return [c, h, w]
        case .vector(let f): return [f]
        }
    }
}
