/// A pair of values for the two spatial axes (height, width).
public struct Pair2D: Hashable, Sendable, CustomStringConvertible {
    public var height: Int
    public var width: Int
    public init(_ height: Int, _ width: Int) { self.height = height; self.width = width }
    public init(square: Int) { self.height = square; self.width = square }
    /// `5` when square, `3×5` otherwise.
    public var description: String { height == width ? "\(height)" : "\(height)×\(width)" }
}

/// The network input (always node 0 of a graph).
public struct InputOperation: LayerOperation {
    public init() {}
    public var kindName: String { "input" }
}
