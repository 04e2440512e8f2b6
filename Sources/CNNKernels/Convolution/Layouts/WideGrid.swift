/// The "wide" layout of the direct backend, its stride-1 core: one image at a time.
///
/// An image padded into a `rows × width` buffer is convolved with a KH×KW kernel on the *wide* grid: output
/// pixel q = y·width + x (x over the whole buffer width, the last KW−1 columns being garbage) reads the input
/// at q + kh·D_h·width + kw·D_w, so every tap is one contiguous vector load. Strided convolutions compute the
/// stride-1 grid and keep every S-th row/column. The register tiles are the kernel target's
/// (`KernelTargetSpec.wideVectors`, `wideTaps`).
struct WideGrid {
    let rows: Int, width: Int, kernelHeight: Int, kernelWidth: Int
    var dilationHeight = 1, dilationWidth = 1
    /// Input buffer elements per channel.
    var plane: Int { rows * width }
    /// Stride-1 output rows.
    var outRows: Int { rows - dilationHeight * (kernelHeight - 1) }
    /// Output pixels the widest target's tile covers (AVX-512: 4 vectors of 16); every target's tile row
    /// divides it, so buffers laid out for it serve them all.
    static let blockPixels = 64
    /// Wide output length rounded up to whole `blockPixels` blocks.
    var paddedOutput: Int { (outRows * width + WideGrid.blockPixels - 1) / WideGrid.blockPixels * WideGrid.blockPixels }
    /// Elements a buffer of `channels` channels needs, including the slack the last block reads past the end
    /// (`correlate` reads up to `maximumTaps − 1` dilated columns beyond the kernel, and whole 16-float groups).
    func bufferSize(channels: Int) -> Int {
        channels * plane + paddedOutput + 2 * WideGrid.blockPixels + WideConvolution.maximumTaps * dilationWidth
    }
}
