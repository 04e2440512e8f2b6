/// Output length of a sliding window along one axis, PyTorch floor mode: ⌊(input + 2·padding − kernel) / stride⌋ + 1.
@inline(__always) func floorModeOutputSize(input: Int, kernel: Int, stride: Int, padding: Int) -> Int {
    (input + 2 * padding - kernel) / stride + 1
}
