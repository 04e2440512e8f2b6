/// 3×3 stride-1 convolutions by Winograd's F(2×2, 3×3) (`WinogradCorrelation`): 2.25× fewer multiply-adds
/// than the direct sum in each of the three passes, where ResNet-style networks spend most of their time
/// (16–512 channels, 3×3, padding 1).
///
/// - forward: the correlation of the input with the weights' transform U.
/// - backwardData: the same-size correlation of gradOutput with the transposed, rotated weights (padding
///   2 − P), its own U' — no col2im.
/// - backwardWeights: `WinogradCorrelation.weightGradient` on the forward's tiles.
///
/// `prepare(weight:)` transforms the weights (U and U') once per change of the weights.
final class WinogradConvolution: ConvolutionBackend {
    let geometry: ConvolutionGeometry
    let kind = ConvolutionBackendKind.winograd
    var algorithm: String { "winograd F(2×2, 3×3)/lane strips, \(gemm.target)" }
    private let forwardCorrelation: WinogradCorrelation
    private let dataCorrelation: WinogradCorrelation
    private let gemm: GEMM
    /// Floats of the GEMM's shared scratch per thread the passes use: the bands' V and M (or the weight
    /// gradient's rows and panels), then that thread's sum of the transformed weight gradient dU.
    private let scratchFloats: Int
    /// Where a thread's dU starts in its scratch (64-byte aligned). What other kernels left in the scratch
    /// only ever reaches GEMM rows and columns past the channel counts, whose results are never read.
    private let partialOffset: Int

    /// Nil when `geometry` is one Winograd F(2×2, 3×3) handles: 3×3, stride 1, no dilation, no groups,
    /// zero padding of at most 2 on each side (the data gradient's padding is 2 − P). Else the reason.
    static func unsupportedReason(_ g: ConvolutionGeometry) -> String? {
        if g.kernelHeight != 3 || g.kernelWidth != 3 { return "kernels other than 3×3" }
        if g.strideHeight != 1 || g.strideWidth != 1 { return "strides other than 1" }
        if g.dilationHeight != 1 || g.dilationWidth != 1 { return "dilation" }
        if g.groups != 1 { return "groups" }
        let maximumPadding = 2
        if [g.paddingTop, g.paddingBottom, g.paddingLeft, g.paddingRight].contains(where: { $0 > maximumPadding }) {
            return "padding above \(maximumPadding)"
        }
        return nil
    }

    /// Memory a layer may take here (transformed weights and its threads' scratch); larger layers are refused
    /// (`auto` then takes im2col) instead of allocating without bound: the transformed weights and each
    /// thread's dU grow with Cin·Cout (ResNet's 512-channel layers: about 100 MiB with 2 threads).
    static let byteLimit = 1 << 30

    /// An upper bound of the bytes `init` allocates for `g` with `threads` threads (U and U', and per
    /// thread the largest pass's band scratch, its input and output-gradient grids, output strip and dU), in
    /// Double: sizes a user can write overflow Int before they are refused.
    static func estimatedBytes(_ g: ConvolutionGeometry, threads: Int) -> Double {
        let cin = Double(g.inChannels), cout = Double(g.outChannels), positions = Double(WinogradCorrelation.positions)
        let tile = KernelTarget.largestGEMMTile
        let lanes = Double(LaneGrid.lanes), rows = Double(tile.rows), columns32 = Double(tile.columns)
        let up = { (value: Double, multiple: Double) in (value / multiple).rounded(.up) * multiple }
        let tileRows = up(Double(max(g.outHeight, g.inHeight)), 2) / 2, tileColumns = up(Double(max(g.outWidth, g.inWidth)), 2) / 2
        // A band holds `targetTiles` tiles or one strip, but no more than a thread's share of the batch's strips
        // (one per tile row of each 16-image group).
        let strips = (Double(g.batch) / lanes).rounded(.up) * tileRows
        let bandTiles = min(max(Double(WinogradCorrelation.targetTiles), tileColumns),
                            max(1, (strips / Double(max(threads, 1))).rounded(.down)) * tileColumns)
        let bandColumns = up(bandTiles * lanes, columns32)
        let transformed = positions * ((cout + rows) * cin + (cin + rows) * cout)
        // Rows of the largest band scratch, the weight gradient's: V, dM, and both again as panels.
        let band = positions * bandColumns * (cin + up(cin, columns32) + 2 * up(cout, rows))
        // Grids are padded to whole tiles plus the 4 × 4 patch's reach: 2 rows and columns more.
        let gridRows = 2 * tileRows + 2, gridWidth = 2 * tileColumns + 2
        let grids = ((cin + cout) * gridRows + 4) * gridWidth * lanes
            + Double(max(g.inHeight * g.inWidth, g.outHeight * g.outWidth)) * lanes
        let partial = positions * up(cout, rows) * up(cin, columns32)
        return 4 * (transformed + Double(threads) * (band + grids + partial))
    }

    /// Floats the backend keeps for `g` from step to step (U and U'), 0 where it cannot run `g`: what a plan
    /// may hold per layer beyond the parameters, for the memory estimate made before backends are chosen.
    static func transformedWeightFloats(_ g: ConvolutionGeometry) -> Double {
        if unsupportedReason(g) != nil { return 0 }
        let rows = Double(KernelTarget.largestGEMMTile.rows), cin = Double(g.inChannels), cout = Double(g.outChannels)
        return Double(WinogradCorrelation.positions) * ((cout + rows) * cin + (cin + rows) * cout)
    }

    init(geometry g: ConvolutionGeometry, gemm: GEMM) throws {
        if let reason = WinogradConvolution.unsupportedReason(g) {
            throw ConvolutionError.unsupported(backend: .winograd, reason: reason)
        }
        let bytes = WinogradConvolution.estimatedBytes(g, threads: gemm.slotCount)
        if bytes > Double(WinogradConvolution.byteLimit) {
            let mib = { (value: Double) in String(Int(value / Double(1 << 20))) + " MiB" }
            throw ConvolutionError.unsupported(
                backend: .winograd,
                reason: "layers whose transformed weights and scratch exceed \(mib(Double(WinogradConvolution.byteLimit))) "
                    + "(this one needs about \(mib(bytes)))")
        }
        geometry = g
        forwardCorrelation = WinogradCorrelation(inChannels: g.inChannels, outChannels: g.outChannels,
                                                 inHeight: g.inHeight, inWidth: g.inWidth, outHeight: g.outHeight,
                                                 outWidth: g.outWidth, padTop: g.paddingTop, padLeft: g.paddingLeft,
                                                 maximumBatch: g.batch, gemm: gemm)
        let flippedPadding = g.kernelHeight - 1
        dataCorrelation = WinogradCorrelation(inChannels: g.outChannels, outChannels: g.inChannels,
                                              inHeight: g.outHeight, inWidth: g.outWidth, outHeight: g.inHeight,
                                              outWidth: g.inWidth, padTop: flippedPadding - g.paddingTop,
                                              padLeft: flippedPadding - g.paddingLeft, maximumBatch: g.batch, gemm: gemm)
        let bandFloats = max(forwardCorrelation.scratchFloats, dataCorrelation.scratchFloats,
                             forwardCorrelation.weightScratchFloats)
        partialOffset = bandFloats.roundedUp(toMultipleOf: gemm.nr)
        scratchFloats = partialOffset + forwardCorrelation.transformedGradientFloats
        self.gemm = gemm
        gemm.reserveSharedScratch(floats: scratchFloats)
    }

    /// U and U' kept; the rest of `estimatedBytes` (threads' scratch, the GEMM's shared scratch) as workspace.
    static func memory(_ g: ConvolutionGeometry, threads: Int) -> MemoryFootprint? {
        let bytes = estimatedBytes(g, threads: threads)
        guard unsupportedReason(g) == nil, bytes <= Double(byteLimit) else { return nil }
        let kept = 4 * transformedWeightFloats(g)
        return MemoryFootprint(workspaceBytes: bytes - kept, persistentBytes: kept)
    }

    func prepare(weight: UnsafePointer<Float>) {
        forwardCorrelation.transformWeights(weight, flipped: false)
        dataCorrelation.transformWeights(weight, flipped: true)
    }

    func forward(batch: Int, input: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                 output: UnsafeMutablePointer<Float>) {
        forwardCorrelation.run(batch: batch, input: input, bias: bias, output: output, scratch: gemm.sharedScratch)
    }

    func backwardData(batch: Int, gradOutput: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                      gradInput: UnsafeMutablePointer<Float>) {
        dataCorrelation.run(batch: batch, input: gradOutput, bias: nil, output: gradInput, scratch: gemm.sharedScratch)
    }

    func backwardWeights(batch: Int, input: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>,
                         gradWeight: UnsafeMutablePointer<Float>, gradBias: UnsafeMutablePointer<Float>?) {
        forwardCorrelation.weightGradient(batch: batch, input: input, gradOutput: gradOutput, gradWeight: gradWeight,
                                          scratch: gemm.sharedScratch, partialOffset: partialOffset)
        if let gradBias {
            if batch <= 0 {
                gradBias.update(repeating: 0, count: geometry.outChannels)
            } else {
                PatchLowering.biasGradient(geometry, batch: batch, gradOutput: gradOutput, gradBias: gradBias)
            }
        }
    }
}
