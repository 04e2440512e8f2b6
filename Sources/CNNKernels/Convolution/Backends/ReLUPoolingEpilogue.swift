/// ReLU → pooling done in a convolution's epilogue: the convolution hands over each finished output
/// plane (one image, one channel) while it is in L1, and the epilogue writes the pooled plane (and, for
/// max pooling, the argmax) from there.
///
/// - max: the plane goes to a per-thread scratch, never to the convolution's output buffer (no layer
///   reads it: backward needs only the pooled values and the argmax), and the ReLU runs on the pooled
///   plane, as `maxpool(relu(x)) = relu(maxpool(x))`.
/// - average: the convolution still writes its output (backward needs it for the ReLU mask); the pooled
///   plane is computed from it while it is cache-hot.
///
/// Results are those of `MaxPooling` + `Activation` and of `ReLUAveragePooling` (the same plane kernels).
public final class ReLUPoolingEpilogue {
    public enum Mode {
        case max(argmax: UnsafeMutablePointer<Int32>)
        case average(countIncludePad: Bool)
    }

    let geometry: PoolingGeometry
    let mode: Mode
    /// Pooled output, [batch, channels, outHeight, outWidth].
    let pooled: UnsafeMutablePointer<Float>
    /// The pooled output's gradient (same shape), which `expandGradient` reads for blocks in lanes.
    let pooledGradient: UnsafePointer<Float>
    private let scratch: [UnsafeMutablePointer<Float>]
    /// Per slot: one channel's pooled plane of 16 images in lanes ([outPlane][16]).
    private let laneScratch: [UnsafeMutablePointer<Float>]
    /// Images 0 ..< laneImages of the last forward ran in lanes (`finishLanes`): for them the argmax (max)
    /// or the convolution's output (average) is stored in lanes, block by block at the images' offsets,
    /// and the convolution expands their gradient itself (`expandGradient`). The convolution's own
    /// bookkeeping, set on every forward; the pooling layer asks the convolution
    /// (`EpilogueConvolution.imagesExpandedByEpilogue`) instead of reading it.
    var laneImages = 0
    /// The convolution's output buffer of that forward (average pooling keeps its lanes there).
    var keptOutput: UnsafePointer<Float>?

    /// `slots`: the most convolution tasks that run at once (the pool's thread count).
    public init(geometry: PoolingGeometry, mode: Mode, pooled: UnsafeMutablePointer<Float>,
                pooledGradient: UnsafePointer<Float>, slots: Int) {
        self.geometry = geometry; self.mode = mode; self.pooled = pooled; self.pooledGradient = pooledGradient
        if case .max = mode {
            scratch = (0..<max(1, slots)).map { _ in GEMM.allocateAligned(geometry.inPlane) }
        } else {
            scratch = []
        }
        laneScratch = (0..<max(1, slots)).map { _ in GEMM.allocateAligned(geometry.outPlane * LaneGrid.lanes) }
    }

    deinit { (scratch + laneScratch).forEach { $0.deallocate() } }

    /// What `init` allocates: per slot a plane of scratch (max pooling) and one channel's pooled plane in lanes.
    public static func memory(_ geometry: PoolingGeometry, isMax: Bool, slots: Int) -> MemoryFootprint {
        let perSlot = (isMax ? MemoryFootprint.alignedFloats(geometry.inPlane) : 0)
            + MemoryFootprint.alignedFloats(geometry.outPlane * LaneGrid.lanes)
        return MemoryFootprint(workspaceBytes: Double(max(1, slots)) * perSlot)
    }

    /// Where the convolution writes plane (image, channel) in task `slot`: a scratch plane for max
    /// pooling, nil (its own output) for average pooling.
    @inline(__always)
    func planeTarget(slot: Int) -> UnsafeMutablePointer<Float>? { scratch.isEmpty ? nil : scratch[slot] }

    /// Pools the finished plane `plane` (H×W contiguous) of image `image`, channel `channel`.
    func finish(plane: UnsafePointer<Float>, image: Int, channel: Int) {
        let g = geometry, index = image * g.channels + channel
        let destination = pooled + index * g.outPlane
        switch mode {
        case .max(let argmax):
            let indices = argmax + index * g.outPlane
            if g.isTwoByTwoStrideTwo {
                MaxPooling.forwardTwoByTwoPlane(g, plane, destination, indices)
            } else {
                MaxPooling.forwardGenericPlane(g, plane, destination, indices)
            }
            for p in 0..<g.outPlane where destination[p] < 0 { destination[p] = 0 }
        case .average(let countIncludePad):
            if g.isTwoByTwoStrideTwo {
                ReLUAveragePooling.forwardTwoByTwoPlane(g, plane, destination)
            } else {
                ReLUAveragePooling.forwardPlane(g, countIncludePad, plane, destination)
            }
        }
    }
}

extension ReLUPoolingEpilogue {
    /// Whether `finishLanes` and `expandGradient` handle this pooling (2×2 stride 2, max or average).
    var runsInLanes: Bool { geometry.isTwoByTwoStrideTwo }

    /// Pools every channel of a block of 16 images in lanes (`LaneConvolution`'s [channels][H][W][16]
    /// results, images `firstImage ..< firstImage + 16`, `bias` not yet added) without extracting the
    /// planes: each 2×2 window is four aligned vectors, so the pooling and the ReLU run on 16 images at once,
    /// and each channel's pooled vectors leave through register transposes (`LaneTranspose.fromLanes`).
    /// What backward needs stays in lanes at the block's offsets (see `laneImages`):
    /// - max: the argmax as [channels][outPlane][16] codes, the window element's plane index, or −1 where the
    ///   ReLU zeroed the maximum (the same first-maximum and NaN rules as `MaxPooling.forwardTwoByTwoPlane`);
    /// - average: the convolution's output with its bias where windows cover it, as [channels][H][W][16],
    ///   written to `output` (the ReLU's mask; what no window covers gets no gradient and is not written).
    /// Only for `runsInLanes` geometries.
    func finishLanes(_ block: UnsafePointer<Float>, bias: UnsafePointer<Float>?, firstImage: Int,
                     output: UnsafeMutablePointer<Float>, slot: Int) {
        let g = geometry, lanes = LaneGrid.lanes, width = g.inWidth, rowBytes = 4 * width * lanes
        let raw = UnsafeRawPointer(block), staged = UnsafeMutableRawPointer(laneScratch[slot])
        for c in 0..<g.channels {
            let shift = SIMD16<Float>(repeating: bias?[c] ?? 0)
            let channel = raw + c * g.inPlane * lanes * 4
            switch mode {
            case .max(let argmax):
                let codes = UnsafeMutableRawPointer(argmax + (firstImage * g.channels + c * lanes) * g.outPlane)
                for py in 0..<g.outHeight {
                    for px in 0..<g.outWidth {
                        let corner = 2 * py * width + 2 * px, byte = 4 * corner * lanes
                        var best = channel.load(fromByteOffset: byte, as: SIMD16<Float>.self) + shift
                        var index = SIMD16<Int32>(repeating: Int32(truncatingIfNeeded: corner))
                        @inline(__always) func candidate(_ step: Int) -> SIMD16<Float> {
                            channel.load(fromByteOffset: byte + step, as: SIMD16<Float>.self) + shift
                        }
                        @inline(__always) func position(_ offset: Int) -> SIMD16<Int32> {
                            SIMD16(repeating: Int32(truncatingIfNeeded: corner + offset))
                        }
                        MaxPooling.keepFirstMaximum(candidate(4 * lanes), at: position(1), &best, &index)
                        MaxPooling.keepFirstMaximum(candidate(rowBytes), at: position(width), &best, &index)
                        MaxPooling.keepFirstMaximum(candidate(rowBytes + 4 * lanes), at: position(width + 1),
                                                    &best, &index)
                        // ReLU backward passes gradient only where the pooled output is > 0 (NaN: none).
                        index = LaneBits.keepOrDead(index, where: best .> SIMD16())
                        best = ActivationFunctions.relu(best)
                        let out = 4 * (py * g.outWidth + px) * lanes
                        staged.storeBytes(of: best, toByteOffset: out, as: SIMD16<Float>.self)
                        codes.storeBytes(of: index, toByteOffset: out, as: SIMD16<Int32>.self)
                    }
                }
            case .average:
                let kept = UnsafeMutableRawPointer(output + (firstImage * g.channels + c * lanes) * g.inPlane)
                for py in 0..<g.outHeight {
                    for px in 0..<g.outWidth {
                        let corner = 4 * (2 * py * width + 2 * px) * lanes
                        @inline(__always) func value(_ byte: Int) -> SIMD16<Float> {
                            let x = channel.load(fromByteOffset: byte, as: SIMD16<Float>.self) + shift
                            kept.storeBytes(of: x, toByteOffset: byte, as: SIMD16<Float>.self)
                            return ActivationFunctions.relu(x)
                        }
                        let a = value(corner), b = value(corner + 4 * lanes)
                        let c = value(corner + rowBytes), d = value(corner + rowBytes + 4 * lanes)
                        staged.storeBytes(of: ((a + b) + (c + d)) * 0.25, toByteOffset: 4 * (py * g.outWidth + px) * lanes,
                                          as: SIMD16<Float>.self)
                    }
                }
            }
            LaneTranspose.fromLanes(laneScratch[slot], pixels: g.outPlane, shift: 0,
                                    into: pooled + (firstImage * g.channels + c) * g.outPlane,
                                    planeStride: g.channels * g.outPlane)
        }
    }

    /// Rows × columns of the convolution's output that windows cover (from the top left): all that
    /// `expandGradient` writes.
    var coveredSize: (rows: Int, columns: Int) { (2 * geometry.outHeight, 2 * geometry.outWidth) }

    /// The gradient of the convolution's output for the block of 16 images at `firstImage` (which ran in
    /// lanes: `firstImage + 16 ≤ laneImages`), computed from the pooled output's gradient and what
    /// `finishLanes` kept, written as [channels][H][W][16] into `grid` at row `offsetY`, column `offsetX`
    /// (a grid `gridWidth` pixels wide, `channelFloats` apart per channel). Every element of `coveredSize`
    /// is written; the caller zeroes the rest (what no window covers gets no gradient). Replaces the pool's
    /// backward and the transpose of its result into lanes.
    func expandGradient(firstImage: Int, slot: Int,
                        into grid: UnsafeMutablePointer<Float>, gridWidth: Int, channelFloats: Int,
                        offsetY: Int, offsetX: Int) {
        let g = geometry, lanes = LaneGrid.lanes, vector = 4 * lanes, width = g.inWidth
        let staged = UnsafeRawPointer(laneScratch[slot])
        for c in 0..<g.channels {
            LaneTranspose.toLanes(pooledGradient + (firstImage * g.channels + c) * g.outPlane,
                                  planeStride: g.channels * g.outPlane, pixels: g.outPlane, into: laneScratch[slot])
            let target = UnsafeMutableRawPointer(grid + c * channelFloats + (offsetY * gridWidth + offsetX) * lanes)
            let gridRow = gridWidth * vector
            switch mode {
            case .max(let argmax):
                let codes = UnsafeRawPointer(argmax + (firstImage * g.channels + c * lanes) * g.outPlane)
                let width32 = Int32(truncatingIfNeeded: width)
                for py in 0..<g.outHeight {
                    for px in 0..<g.outWidth {
                        let out = (py * g.outWidth + px) * vector
                        let gradient = staged.load(fromByteOffset: out, as: SIMD16<Float>.self)
                        let code = codes.load(fromByteOffset: out, as: SIMD16<Int32>.self)
                        let corner = Int32(truncatingIfNeeded: 2 * py * width + 2 * px)
                        let top = 2 * py * gridRow + 2 * px * vector
                        @inline(__always) func put(_ byte: Int, _ position: Int32) {
                            target.storeBytes(of: LaneBits.keep(gradient, where: code .== SIMD16(repeating: position)),
                                              toByteOffset: byte, as: SIMD16<Float>.self)
                        }
                        put(top, corner)
                        put(top + vector, corner + 1)
                        put(top + gridRow, corner + width32)
                        put(top + gridRow + vector, corner + width32 + 1)
                    }
                }
            case .average:
                guard let keptOutput else { return }  // invariant: set with laneImages
                let kept = UnsafeRawPointer(keptOutput + (firstImage * g.channels + c * lanes) * g.inPlane)
                let rowBytes = width * vector
                for py in 0..<g.outHeight {
                    for px in 0..<g.outWidth {
                        let share = staged.load(fromByteOffset: (py * g.outWidth + px) * vector, as: SIMD16<Float>.self) * 0.25
                        let corner = (2 * py * width + 2 * px) * vector, top = 2 * py * gridRow + 2 * px * vector
                        @inline(__always) func put(_ keptByte: Int, _ byte: Int) {
                            let x = kept.load(fromByteOffset: keptByte, as: SIMD16<Float>.self)
                            target.storeBytes(of: LaneBits.keep(share, where: x .> SIMD16()), toByteOffset: byte,
                                              as: SIMD16<Float>.self)
                        }
                        put(corner, top)
                        put(corner + vector, top + vector)
                        put(corner + rowBytes, top + gridRow)
                        put(corner + rowBytes + vector, top + gridRow + vector)
                    }
                }
            }
        }
    }
}

/// Lane selects written in the forms LLVM turns into single vector instructions. `replacing(with:where:)`
/// and the comparisons are generic code that becomes a blend only when LLVM fully unrolls it; some
/// spellings (a scalar operand, a mask's bits combined with `~`) became loops over the 16 lanes inside the
/// epilogue's loops (6× slower passes, seen in the disassembly).
enum LaneBits {
    /// a where `mask` is set, else 0.
    @inline(__always)
    static func keep(_ a: SIMD16<Float>, where mask: SIMDMask<SIMD16<Int32>>) -> SIMD16<Float> {
        unsafeBitCast(unsafeBitCast(a, to: SIMD16<Int32>.self) & mask._storage, to: SIMD16<Float>.self)
    }

    /// i where `mask` is set, else −1 (the argmax code of a window whose pooled output the ReLU zeroed: no
    /// element gets gradient): ((i + 1) & mask) − 1.
    @inline(__always)
    static func keepOrDead(_ i: SIMD16<Int32>, where mask: SIMDMask<SIMD16<Int32>>) -> SIMD16<Int32> {
        ((i &+ 1) & mask._storage) &- 1
    }
}

/// A convolution kernel that can run a `ReLUPoolingEpilogue` on its output planes (the direct backend).
public protocol EpilogueConvolution: ConvolutionKernel {
    /// Set by the plan when the layer's ReLU → pool is fused into it; nil writes the output plainly.
    var epilogue: ReLUPoolingEpilogue? { get set }
    /// Images 0 ..< n of a `batch` whose pooled gradient this kernel's backward expands itself (its epilogue
    /// kept them in lanes): the fused pooling's backward must skip them. A function of the batch alone — the
    /// split forward and backward both use — not something the last forward left behind.
    func imagesExpandedByEpilogue(batch: Int) -> Int
}
