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
    private let scratch: [UnsafeMutablePointer<Float>]

    /// `slots`: the most convolution tasks that run at once (the pool's thread count).
    public init(geometry: PoolingGeometry, mode: Mode, pooled: UnsafeMutablePointer<Float>, slots: Int) {
        self.geometry = geometry; self.mode = mode; self.pooled = pooled
        if case .max = mode {
            scratch = (0..<max(1, slots)).map { _ in GEMM.allocateAligned(geometry.inPlane) }
        } else {
            scratch = []
        }
    }

    deinit { scratch.forEach { $0.deallocate() } }

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
    /// Pools every channel of a block of 16 images in lanes (`LaneConvolution`'s [channels][H][W][16]
    /// results, images `firstImage ..< firstImage + 16`, `bias` not yet added) without extracting the
    /// planes: each 2×2 window is four aligned vectors, so the max, its argmax and the ReLU run on 16
    /// images at once and only the pooled values and indices are scattered to their planes. Handles max
    /// pooling 2×2 stride 2 (the same first-maximum and NaN rules as `MaxPooling.forwardTwoByTwoPlane`);
    /// returns false for any other pooling, which then takes `finish` plane by plane.
    func finishLanes(_ block: UnsafePointer<Float>, bias: UnsafePointer<Float>?, firstImage: Int) -> Bool {
        let g = geometry
        guard case .max(let argmax) = mode, g.isTwoByTwoStrideTwo else { return false }
        let lanes = LaneGrid.lanes, width = g.inWidth, rowVectors = width * lanes
        let raw = UnsafeRawPointer(block)
        for c in 0..<g.channels {
            let shift = SIMD16<Float>(repeating: bias?[c] ?? 0)
            let channel = raw + c * g.inPlane * lanes * 4
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
                    MaxPooling.keepFirstMaximum(candidate(4 * rowVectors), at: position(width), &best, &index)
                    MaxPooling.keepFirstMaximum(candidate(4 * (rowVectors + lanes)), at: position(width + 1),
                                                &best, &index)
                    best.replace(with: 0, where: best .< 0)
                    let out = py * g.outWidth + px
                    for lane in 0..<lanes {
                        let at = ((firstImage + lane) * g.channels + c) * g.outPlane + out
                        pooled[at] = best[lane]
                        argmax[at] = index[lane]
                    }
                }
            }
        }
        return true
    }
}

/// A convolution kernel that can run a `ReLUPoolingEpilogue` on its output planes (the direct backend).
public protocol EpilogueConvolution: ConvolutionKernel {
    /// Set by the plan when the layer's ReLU → pool is fused into it; nil writes the output plainly.
    var epilogue: ReLUPoolingEpilogue? { get set }
}

extension DirectConvolution: EpilogueConvolution {}
