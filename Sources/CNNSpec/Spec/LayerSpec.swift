/// A named layer with its inputs resolved to indices of earlier layers (index 0 is the network input).
public struct ResolvedLayer: Sendable {
    public var name: String
    /// Nil when the layer's hyperparameters had errors; its shape is then unknown and not reported again.
    public var arguments: LayerArguments?
    public var inputs: [Int]
    public var location: SourceLocation?

    public init(name: String, arguments: LayerArguments?, inputs: [Int], location: SourceLocation?) {
        self.name = name; self.arguments = arguments; self.inputs = inputs; self.location = location
    }
}
