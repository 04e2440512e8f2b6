/// Output length of a sliding window along one axis, PyTorch floor mode: ⌊(input + 2·padding − kernel) / stride⌋ + 1.
@inline(__always) func floorModeOutputSize(input: Int, kernel: Int, stride: Int, padding: Int) -> Int {
    poolingOutputSize(input: input, kernel: kernel, stride: stride, padding: padding, ceilMode: false)
}

/// Output length of a sliding window along one axis, PyTorch's `pooling_output_shape` (dilation 1).
///
/// Floor mode: ⌊(input + 2·padding − kernel) / stride⌋ + 1. Ceil mode rounds the division up, so a
/// partial last window is kept — but PyTorch then drops that window again if it would start in the
/// right padding ((out − 1)·stride ≥ input + padding): every window must start inside the input or
/// the left padding, otherwise it would see no real element at all.
@inline(__always) func poolingOutputSize(input: Int, kernel: Int, stride: Int, padding: Int, ceilMode: Bool) -> Int {
    let span = input + 2 * padding - kernel
    guard ceilMode else { return span / stride + 1 }
    var size = (span + stride - 1) / stride + 1
    if (size - 1) * stride >= input + padding { size -= 1 }
    return size
}
