/// Bounds that keep every size, parameter count and MAC count far from 64-bit overflow.
public enum SpecLimits {
    /// Largest channel count, spatial size, kernel, stride, padding or feature count accepted.
    public static let maximumDimension = 1 << 20
    /// Largest number of layers a file may expand to (after `repeat` and blocks).
    public static let maximumLayers = 100_000
    /// Deepest nesting of `repeat` and block uses.
    public static let maximumExpansionDepth = 32
}
