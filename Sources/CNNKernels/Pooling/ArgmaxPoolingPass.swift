/// What a max-pooling forward plane task reads (C-convention tasks cannot capture), for any window
/// geometry (fixed windows or adaptive ones).
struct ArgmaxPoolingForwardPass<Geometry> {
    let geometry: Geometry
    let input: UnsafePointer<Float>
    let output: UnsafeMutablePointer<Float>
    let argmax: UnsafeMutablePointer<Int32>
}

/// What a max-pooling backward plane task reads: the gradient is routed to each window's argmax.
struct ArgmaxPoolingBackwardPass<Geometry> {
    let geometry: Geometry
    let gradOutput: UnsafePointer<Float>
    let argmax: UnsafePointer<Int32>
    let gradInput: UnsafeMutablePointer<Float>
}
