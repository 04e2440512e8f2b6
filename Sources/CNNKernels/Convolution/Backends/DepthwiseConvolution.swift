/// Depthwise convolution (groups = Cin, Cout = m·Cin: output channel co sees only input channel co / m).
///
/// A depthwise layer does KH·KW multiply-adds per output pixel and reads one input pixel per output pixel,
/// so it is memory-bound: lowering (im2col writes KH·KW copies of the input) or a GEMM with one-row
/// matrices only add traffic. This backend works per (image, channel) plane, vectorised over output
/// pixels with `SIMD16<Float>` FMAs, threaded over planes with the pool.
///
/// **Phase-split layout.** Each input plane is copied, padded, into a per-thread buffer where padded
/// column C sits in phase C mod S_w at index ⌊C / S_w⌋ (row R at R·rowStride, phases one after another).
/// Output column ox then reads tap kw at index ox + ⌊kw·D_w / S_w⌋ of phase (kw·D_w) mod S_w — contiguous
/// in ox for every stride and dilation, so strided layers load whole vectors instead of gathering. Rows
/// need no split (output row oy reads padded row oy·S_h + kh·D_h). The padding positions of the buffers
/// never change, so they are zeroed once in the initializer and the per-plane copy writes only the interior.
///
/// - forward: per (image, out channel) plane, bias + Σ taps; 3×3 kernels take an unrolled path with two
///   vectors in flight. Consecutive out channels of one input channel (multiplier m) reuse the copy.
///   Stride-2 rows are split into phases with SIMD32 even/odd shuffles.
/// - backwardData: per (image, in channel) plane, the gradient of the padded input is built directly in
///   the phase layout — padded position (R, phase r, j) collects gradOut[(R − kh·D_h)/S_h][j − ⌊kw·D_w/S_w⌋]
///   over the taps with kw·D_w ≡ r (mod S_w) and S_h | R − kh·D_h, again contiguous in j (gradOut rows are
///   copied with zero margins so out-of-range columns read zeros) — then its interior is copied out. No
///   dilated-by-stride zeros are multiplied.
/// - backwardWeights + bias: threaded over out channels (no reduction between threads), each thread loops
///   over the batch; 3×3 kernels keep all nine tap sums in registers for one pass over a plane (10 loads
///   per 9 FMAs), other kernels run 4 kernel columns per pass (5 loads per 4 FMAs).
final class DepthwiseConvolution: ConvolutionBackend {
    let geometry: ConvolutionGeometry
    let kind = ConvolutionBackendKind.depthwise
    var algorithm: String { "depthwise/planes" }
    private let pool: ThreadPool
    private let threads: Int
    /// Output channels per input channel, Cout / Cin.
    private let multiplier: Int
    /// Entries of one column phase of a padded row, ⌈W_padded / S_w⌉.
    private let phaseLength: Int
    /// Floats between padded rows of the phase layout, S_w·phaseLength.
    private let rowStride: Int
    /// Floats of one phase-split padded plane, with slack for the last vector's overrun.
    private let planeSize: Int
    /// Zero columns before a copied gradOut row: ⌊(KW − 1)·D_w / S_w⌋, the largest tap shift.
    private let gradientLead: Int
    /// Floats between copied gradOut rows (lead + phaseLength + two vectors, rounded to vectors).
    private let gradientStride: Int
    /// Index of tap (kh, kw) relative to an output row's first padded row and output column:
    /// kh·D_h·rowStride + phase(kw)·phaseLength + ⌊kw·D_w / S_w⌋.
    private let tapOffsets: UnsafeMutablePointer<Int>
    /// The kw of every tap column, ordered by phase; `phaseStarts[r] ..< phaseStarts[r + 1]` are phase r's.
    private let phaseColumns: UnsafeMutablePointer<Int>
    private let phaseStarts: UnsafeMutablePointer<Int>
    /// backwardData's taps per padded row R and column phase r: entries `dataTapStarts[R·S_w + r] ..<
    /// dataTapStarts[R·S_w + r + 1]` of `dataTapWeights` (kh·KW + kw) and `dataTapOffsets`
    /// (oy·gradientStride − ⌊kw·D_w / S_w⌋, oy = (R − kh·D_h)/S_h), for the taps that reach row R from a
    /// valid output row and whose column lands in phase r. Built once so the inner loop has no divisions.
    private let dataTapStarts: UnsafeMutablePointer<Int>
    private let dataTapWeights: UnsafeMutablePointer<Int>
    private let dataTapOffsets: UnsafeMutablePointer<Int>
    /// Per thread: the phase-split padded input plane (forward, backwardWeights).
    private let inputs: [UnsafeMutablePointer<Float>]
    /// Per thread: m gradOut planes with zero margins (backwardData; plane 0 in backwardWeights).
    private let gradients: [UnsafeMutablePointer<Float>]
    /// Per thread: the gradient of the phase-split padded input plane (backwardData).
    private let paddedGradients: [UnsafeMutablePointer<Float>]

    /// Lanes of the vectors the kernels work on.
    private static let lanes = 16
    /// Kernel columns whose tap sums one backwardWeights pass accumulates together.
    private static let columnsPerPass = 4

    init(geometry g: ConvolutionGeometry, gemm: GEMM) throws {
        if !g.isDepthwise {
            throw ConvolutionError.unsupported(
                backend: .depthwise,
                reason: "non-depthwise layers (groups = \(g.groups), in channels = \(g.inChannels); it needs groups = "
                    + "in channels and out channels a multiple of them)")
        }
        geometry = g
        pool = gemm.pool
        threads = gemm.slotCount
        multiplier = g.outChannels / g.inChannels
        (phaseLength, rowStride, planeSize, gradientLead, gradientStride) = DepthwiseConvolution.layout(g)
        let taps = g.kernelHeight * g.kernelWidth
        tapOffsets = .allocate(capacity: taps)
        for kh in 0..<g.kernelHeight {
            for kw in 0..<g.kernelWidth {
                let column = kw * g.dilationWidth
                tapOffsets[kh * g.kernelWidth + kw] = kh * g.dilationHeight * rowStride
                    + (column % g.strideWidth) * phaseLength + column / g.strideWidth
            }
        }
        phaseColumns = .allocate(capacity: g.kernelWidth)
        phaseStarts = .allocate(capacity: g.strideWidth + 1)
        var next = 0
        for phase in 0..<g.strideWidth {
            phaseStarts[phase] = next
            for kw in 0..<g.kernelWidth where kw * g.dilationWidth % g.strideWidth == phase {
                phaseColumns[next] = kw
                next += 1
            }
        }
        phaseStarts[g.strideWidth] = next
        dataTapStarts = .allocate(capacity: g.paddedHeight * g.strideWidth + 1)
        dataTapWeights = .allocate(capacity: max(1, g.paddedHeight * taps))
        dataTapOffsets = .allocate(capacity: max(1, g.paddedHeight * taps))
        var entry = 0
        for row in 0..<g.paddedHeight {
            for phase in 0..<g.strideWidth {
                dataTapStarts[row * g.strideWidth + phase] = entry
                for kh in 0..<g.kernelHeight {
                    let distance = row - kh * g.dilationHeight
                    if distance < 0 || distance % g.strideHeight != 0 || distance / g.strideHeight >= g.outHeight {
                        continue
                    }
                    for c in phaseStarts[phase]..<phaseStarts[phase + 1] {
                        let kw = phaseColumns[c]
                        dataTapWeights[entry] = kh * g.kernelWidth + kw
                        dataTapOffsets[entry] = distance / g.strideHeight * gradientStride
                            - kw * g.dilationWidth / g.strideWidth
                        entry += 1
                    }
                }
            }
        }
        dataTapStarts[g.paddedHeight * g.strideWidth] = entry
        let planeSize = planeSize, gradientSize = DepthwiseConvolution.gradientSize(g)
        let zeroed = { (count: Int) -> UnsafeMutablePointer<Float> in
            let buffer = GEMM.allocateAligned(count)
            buffer.update(repeating: 0, count: count)
            return buffer
        }
        inputs = (0..<threads).map { _ in zeroed(planeSize) }
        gradients = (0..<threads).map { _ in zeroed(gradientSize) }
        paddedGradients = (0..<threads).map { _ in zeroed(planeSize) }
    }

    deinit {
        (inputs + gradients + paddedGradients).forEach { $0.deallocate() }
        tapOffsets.deallocate()
        phaseColumns.deallocate()
        phaseStarts.deallocate()
        dataTapStarts.deallocate()
        dataTapWeights.deallocate()
        dataTapOffsets.deallocate()
    }

    /// phaseLength, rowStride, planeSize, gradientLead and gradientStride for `g` (see the properties).
    private static func layout(_ g: ConvolutionGeometry)
        -> (phaseLength: Int, rowStride: Int, planeSize: Int, gradientLead: Int, gradientStride: Int) {
        let phaseLength = (g.paddedWidth + g.strideWidth - 1) / g.strideWidth
        let rowStride = g.strideWidth * phaseLength
        let gradientLead = (g.kernelWidth - 1) * g.dilationWidth / g.strideWidth
        return (phaseLength, rowStride, g.paddedHeight * rowStride + 2 * lanes, gradientLead,
                (gradientLead + phaseLength + 3 * lanes - 1) / lanes * lanes)
    }

    /// Floats of one thread's gradOut planes.
    private static func gradientSize(_ g: ConvolutionGeometry) -> Int {
        g.outChannels / g.inChannels * g.outHeight * layout(g).gradientStride + lanes
    }

    /// Per thread two padded planes and the gradOut planes; the tap tables.
    static func memory(_ g: ConvolutionGeometry, threads: Int) -> MemoryFootprint? {
        guard g.isDepthwise else { return nil }
        let aligned = MemoryFootprint.alignedFloats, taps = g.kernelHeight * g.kernelWidth, planeSize = layout(g).planeSize
        let tables = taps + g.kernelWidth + g.strideWidth + 1 + g.paddedHeight * g.strideWidth + 1 + 2 * max(1, g.paddedHeight * taps)
        return MemoryFootprint(workspaceBytes: Double(threads) * (2 * aligned(planeSize) + aligned(gradientSize(g))) + 8 * Double(tables))
    }

    func prepare(weight: UnsafePointer<Float>) {}

    // MARK: - Plane copies

    /// Copies input plane `source[H][W]` into the phase-split padded `buffer` (interior only).
    private func placeInput(_ source: UnsafePointer<Float>, into buffer: UnsafeMutablePointer<Float>) {
        let g = geometry, stride = g.strideWidth
        for r in 0..<g.inHeight {
            let from = source + r * g.inWidth, row = buffer + (r + g.paddingTop) * rowStride
            if stride == 1 {
                (row + g.paddingLeft).update(from: from, count: g.inWidth)
                continue
            }
            if stride == 2 {
                DepthwiseConvolution.deinterleave(from, count: g.inWidth, left: g.paddingLeft, into: row,
                                                  phaseLength: phaseLength)
                continue
            }
            for phase in 0..<stride {
                // First input column x with (x + P_left) mod S = phase.
                let first = ((phase - g.paddingLeft) % stride + stride) % stride
                if first >= g.inWidth { continue }
                let to = row + phase * phaseLength + (first + g.paddingLeft) / stride
                var x = first, j = 0
                while x < g.inWidth { to[j] = from[x]; x += stride; j += 1 }
            }
        }
    }

    /// Stride-2 rows of `placeInput`: padded column C = x + left goes to phase C mod 2, index ⌊C/2⌋, 32
    /// columns at a time split into even and odd lanes with one shuffle each.
    @inline(__always)
    private static func deinterleave(_ from: UnsafePointer<Float>, count: Int, left: Int,
                                     into row: UnsafeMutablePointer<Float>, phaseLength: Int) {
        var x = 0
        if left & 1 == 1 {  // column 0 sits in the odd phase: place it alone so the rest starts even
            row[phaseLength + left / 2] = from[0]
            x = 1
        }
        let even = row + (x + left) / 2, odd = row + phaseLength + (x + left) / 2
        var j = 0
        while x + 32 <= count {
            let pair = UnsafeRawPointer(from + x).loadUnaligned(as: SIMD32<Float>.self)
            UnsafeMutableRawPointer(even + j).storeBytes(of: pair.evenHalf, as: SIMD16<Float>.self)
            UnsafeMutableRawPointer(odd + j).storeBytes(of: pair.oddHalf, as: SIMD16<Float>.self)
            x += 32
            j += 16
        }
        if x + 16 <= count {
            let pair = UnsafeRawPointer(from + x).loadUnaligned(as: SIMD16<Float>.self)
            UnsafeMutableRawPointer(even + j).storeBytes(of: pair.evenHalf, as: SIMD8<Float>.self)
            UnsafeMutableRawPointer(odd + j).storeBytes(of: pair.oddHalf, as: SIMD8<Float>.self)
            x += 16
            j += 8
        }
        while x < count {
            even[j] = from[x]
            if x + 1 < count { odd[j] = from[x + 1] }
            x += 2
            j += 1
        }
    }

    /// Stride-2 rows of `extractGradient`, the inverse of `deinterleave`: one even/odd pair per step, a loop
    /// the optimiser turns into interleaving shuffles.
    @inline(__always)
    private static func interleave(_ row: UnsafePointer<Float>, phaseLength: Int, left: Int,
                                   into to: UnsafeMutablePointer<Float>, count: Int) {
        var x = 0
        if left & 1 == 1 {
            to[0] = row[phaseLength + left / 2]
            x = 1
        }
        let even = row + (x + left) / 2, odd = row + phaseLength + (x + left) / 2
        let pairs = (count - x) / 2, target = to + x
        for k in 0..<pairs {
            target[2 * k] = even[k]
            target[2 * k + 1] = odd[k]
        }
        if (count - x) & 1 == 1 { target[2 * pairs] = even[pairs] }
    }

    /// Copies the interior of the phase-split padded gradient `buffer` into gradInput plane `target[H][W]`.
    private func extractGradient(_ buffer: UnsafePointer<Float>, into target: UnsafeMutablePointer<Float>) {
        let g = geometry, stride = g.strideWidth
        for r in 0..<g.inHeight {
            let to = target + r * g.inWidth, row = buffer + (r + g.paddingTop) * rowStride
            if stride == 1 {
                to.update(from: row + g.paddingLeft, count: g.inWidth)
                continue
            }
            if stride == 2 {
                DepthwiseConvolution.interleave(row, phaseLength: phaseLength, left: g.paddingLeft, into: to,
                                                count: g.inWidth)
                continue
            }
            for phase in 0..<stride {
                let first = ((phase - g.paddingLeft) % stride + stride) % stride
                if first >= g.inWidth { continue }
                let from = row + phase * phaseLength + (first + g.paddingLeft) / stride
                var x = first, j = 0
                while x < g.inWidth { to[x] = from[j]; x += stride; j += 1 }
            }
        }
    }

    /// Copies gradOut plane `source[OH][OW]` into `buffer` rows of `gradientStride` at column `gradientLead`
    /// and returns its sum (the bias gradient's share).
    @discardableResult
    private func placeGradient(_ source: UnsafePointer<Float>, into buffer: UnsafeMutablePointer<Float>) -> Float {
        let g = geometry, ow = g.outWidth
        var total = SIMD16<Float>(), tail: Float = 0
        for y in 0..<g.outHeight {
            let from = source + y * ow
            (buffer + y * gradientStride + gradientLead).update(from: from, count: ow)
            var x = 0
            while x + 16 <= ow { total += load(from + x); x += 16 }
            while x < ow { tail += from[x]; x += 1 }
        }
        return total.sum() + tail
    }

    @inline(__always) private func load(_ pointer: UnsafePointer<Float>) -> SIMD16<Float> {
        UnsafeRawPointer(pointer).loadUnaligned(as: SIMD16<Float>.self)
    }

    /// Writes the first `count` lanes of `value` to `target` (all 16 when count ≥ 16).
    ///
    /// The forward pass passes the floats left in the output plane, not in the row: a row's last vector
    /// then spills its garbage lanes into the start of the next row, which is computed (and overwritten)
    /// right after — only the plane's very last vector needs the lane-by-lane tail.
    @inline(__always) private static func store(_ value: SIMD16<Float>, _ target: UnsafeMutablePointer<Float>, count: Int) {
        if count >= 16 {
            UnsafeMutableRawPointer(target).storeBytes(of: value, as: SIMD16<Float>.self)
        } else {
            for lane in 0..<count { target[lane] = value[lane] }
        }
    }

    // MARK: - Forward

    func forward(batch: Int, input: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                 output: UnsafeMutablePointer<Float>) {
        let planes = batch * geometry.outChannels
        let pass = Pass(kernel: Unmanaged.passUnretained(self), input: input, weight: weight, bias: bias,
                        output: output)
        pool.forEachPart(of: planes, parts: min(threads, planes), context: pass) { raw, slot, first, end in
            let pass = raw.load(as: Pass.self)
            pass.kernel.takeUnretainedValue().forward(planes: first..<end, slot: slot, pass: pass)
        }
    }

    /// One thread's planes (n·Cout + co) of `forward`.
    private func forward(planes: Range<Int>, slot: Int, pass: Pass) {
        let g = geometry, taps = g.kernelHeight * g.kernelWidth, oh = g.outHeight, ow = g.outWidth
        let buffer = inputs[slot], plane = g.inHeight * g.inWidth
        var placed = -1
        for index in planes {
            let n = index / g.outChannels, co = index % g.outChannels, ci = co / multiplier
            let source = n * g.inChannels + ci
            if source != placed {
                placeInput(pass.input + source * plane, into: buffer)
                placed = source
            }
            let w = pass.weight + co * taps, shift = pass.bias?[co] ?? 0
            let out = pass.output + index * oh * ow
            if taps == 9 {
                forward3x3(buffer: buffer, weights: w, bias: shift, output: out)
                continue
            }
            for y in 0..<oh {
                let base = UnsafePointer(buffer + y * g.strideHeight * rowStride), target = out + y * ow
                var x0 = 0
                while x0 < ow {
                    var sum = SIMD16<Float>(repeating: shift)
                    for t in 0..<taps {
                        sum = sum.addingProduct(SIMD16<Float>(repeating: w[t]), load(base + tapOffsets[t] + x0))
                    }
                    DepthwiseConvolution.store(sum, target + x0, count: min(16, oh * ow - y * ow - x0))
                    x0 += 16
                }
            }
        }
    }

    /// The 9-tap plane of `forward` (3×3 kernels — or any 9-tap shape — at any stride/dilation): weights and offsets in registers,
    /// two vectors per step so two FMA chains overlap.
    private func forward3x3(buffer: UnsafeMutablePointer<Float>, weights w: UnsafePointer<Float>, bias: Float,
                            output: UnsafeMutablePointer<Float>) {
        let g = geometry, oh = g.outHeight, ow = g.outWidth
        let w0 = SIMD16<Float>(repeating: w[0]), w1 = SIMD16<Float>(repeating: w[1]), w2 = SIMD16<Float>(repeating: w[2])
        let w3 = SIMD16<Float>(repeating: w[3]), w4 = SIMD16<Float>(repeating: w[4]), w5 = SIMD16<Float>(repeating: w[5])
        let w6 = SIMD16<Float>(repeating: w[6]), w7 = SIMD16<Float>(repeating: w[7]), w8 = SIMD16<Float>(repeating: w[8])
        let o0 = tapOffsets[0], o1 = tapOffsets[1], o2 = tapOffsets[2], o3 = tapOffsets[3], o4 = tapOffsets[4]
        let o5 = tapOffsets[5], o6 = tapOffsets[6], o7 = tapOffsets[7], o8 = tapOffsets[8]
        let start = SIMD16<Float>(repeating: bias)
        @inline(__always) func taps(_ p: UnsafePointer<Float>) -> SIMD16<Float> {
            var s = start.addingProduct(w0, load(p + o0))
            s = s.addingProduct(w1, load(p + o1)); s = s.addingProduct(w2, load(p + o2))
            s = s.addingProduct(w3, load(p + o3)); s = s.addingProduct(w4, load(p + o4))
            s = s.addingProduct(w5, load(p + o5)); s = s.addingProduct(w6, load(p + o6))
            s = s.addingProduct(w7, load(p + o7)); s = s.addingProduct(w8, load(p + o8))
            return s
        }
        for y in 0..<oh {
            let base = UnsafePointer(buffer + y * g.strideHeight * rowStride), target = output + y * ow
            var x0 = 0
            while x0 + 32 <= ow {
                let a = taps(base + x0), b = taps(base + x0 + 16)
                UnsafeMutableRawPointer(target + x0).storeBytes(of: a, as: SIMD16<Float>.self)
                UnsafeMutableRawPointer(target + x0 + 16).storeBytes(of: b, as: SIMD16<Float>.self)
                x0 += 32
            }
            while x0 < ow {
                DepthwiseConvolution.store(taps(base + x0), target + x0, count: min(16, oh * ow - y * ow - x0))
                x0 += 16
            }
        }
    }

    // MARK: - Backward data

    func backwardData(batch: Int, gradOutput: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                      gradInput: UnsafeMutablePointer<Float>) {
        let planes = batch * geometry.inChannels
        let pass = Pass(kernel: Unmanaged.passUnretained(self), input: gradOutput, weight: weight, bias: nil,
                        output: gradInput)
        pool.forEachPart(of: planes, parts: min(threads, planes), context: pass) { raw, slot, first, end in
            let pass = raw.load(as: Pass.self)
            pass.kernel.takeUnretainedValue().backwardData(planes: first..<end, slot: slot, pass: pass)
        }
    }

    /// One thread's planes (n·Cin + ci) of `backwardData`; `pass.input` is gradOutput, `pass.output` gradInput.
    private func backwardData(planes: Range<Int>, slot: Int, pass: Pass) {
        let g = geometry, taps = g.kernelHeight * g.kernelWidth, outPlane = g.outHeight * g.outWidth
        let gradient = gradients[slot], padded = paddedGradients[slot]
        let gradientPlane = g.outHeight * gradientStride
        for index in planes {
            // Output channels ci·m ..< (ci + 1)·m of image n are planes index·m ..< (index + 1)·m.
            for j in 0..<multiplier {
                placeGradient(pass.input + (index * multiplier + j) * outPlane, into: gradient + j * gradientPlane)
            }
            let weights = pass.weight + (index % g.inChannels) * multiplier * taps
            for row in 0..<g.paddedHeight {
                for phase in 0..<g.strideWidth {
                    let list = row * g.strideWidth + phase
                    let first = dataTapStarts[list], end = dataTapStarts[list + 1]
                    let target = UnsafeMutableRawPointer(padded + row * rowStride + phase * phaseLength)
                    var x0 = 0
                    while x0 < phaseLength {
                        var s0 = SIMD16<Float>(), s1 = SIMD16<Float>()
                        for j in 0..<multiplier {
                            let w = weights + j * taps
                            let source = UnsafePointer(gradient + j * gradientPlane + gradientLead + x0)
                            for entry in first..<end {
                                let weight = SIMD16<Float>(repeating: w[dataTapWeights[entry]])
                                let p = source + dataTapOffsets[entry]
                                s0 = s0.addingProduct(weight, load(p))
                                s1 = s1.addingProduct(weight, load(p + 16))
                            }
                        }
                        // Up to 31 floats past the phase land in the next phase or row (written after
                        // this) or in the plane's slack.
                        target.storeBytes(of: s0, toByteOffset: 4 * x0, as: SIMD16<Float>.self)
                        target.storeBytes(of: s1, toByteOffset: 4 * x0 + 64, as: SIMD16<Float>.self)
                        x0 += 32
                    }
                }
            }
            extractGradient(padded, into: pass.output + index * g.inHeight * g.inWidth)
        }
    }

    // MARK: - Backward weights

    func backwardWeights(batch: Int, input: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>,
                         gradWeight: UnsafeMutablePointer<Float>, gradBias: UnsafeMutablePointer<Float>?) {
        let g = geometry
        gradWeight.update(repeating: 0, count: g.weightCount)
        gradBias?.update(repeating: 0, count: g.outChannels)
        if batch <= 0 { return }
        let pass = WeightsPass(kernel: Unmanaged.passUnretained(self), batch: batch, input: input,
                               gradOutput: gradOutput, gradWeight: gradWeight, gradBias: gradBias)
        pool.forEachPart(of: g.outChannels, parts: min(threads, g.outChannels), context: pass) { raw, slot, first, end in
            let pass = raw.load(as: WeightsPass.self)
            pass.kernel.takeUnretainedValue().backwardWeights(channels: first..<end, slot: slot, pass: pass)
        }
    }

    /// One thread's output channels of `backwardWeights`, summed over the whole batch.
    private func backwardWeights(channels: Range<Int>, slot: Int, pass: WeightsPass) {
        let g = geometry, kh = g.kernelHeight, kw = g.kernelWidth, taps = kh * kw
        let oh = g.outHeight, ow = g.outWidth, inPlane = g.inHeight * g.inWidth
        let buffer = inputs[slot], gradient = gradients[slot]
        let perPass = DepthwiseConvolution.columnsPerPass
        for co in channels {
            let ci = co / multiplier, target = pass.gradWeight + co * taps
            var biasSum: Float = 0
            for n in 0..<pass.batch {
                placeInput(pass.input + (n * g.inChannels + ci) * inPlane, into: buffer)
                biasSum += placeGradient(pass.gradOutput + (n * g.outChannels + co) * oh * ow, into: gradient)
                if taps == 9 {
                    weightGradient9(input: buffer, gradient: gradient, into: target)
                    continue
                }
                for a in 0..<kh {
                    var b0 = 0
                    while b0 < kw {
                        let count = min(perPass, kw - b0)
                        // Columns past the kernel repeat column b0 (in-bounds reads, sums dropped).
                        let t0 = a * kw + b0
                        let f0 = tapOffsets[t0], f1 = tapOffsets[count > 1 ? t0 + 1 : t0]
                        let f2 = tapOffsets[count > 2 ? t0 + 2 : t0], f3 = tapOffsets[count > 3 ? t0 + 3 : t0]
                        var s0 = SIMD16<Float>(), s1 = SIMD16<Float>(), s2 = SIMD16<Float>(), s3 = SIMD16<Float>()
                        for y in 0..<oh {
                            let row = UnsafePointer(buffer + y * g.strideHeight * rowStride)
                            let grad = UnsafePointer(gradient + y * gradientStride + gradientLead)
                            var x0 = 0
                            // Lanes past OW read the zero margin of the gradient row.
                            while x0 < ow {
                                let d = load(grad + x0), p = row + x0
                                s0 = s0.addingProduct(d, load(p + f0)); s1 = s1.addingProduct(d, load(p + f1))
                                s2 = s2.addingProduct(d, load(p + f2)); s3 = s3.addingProduct(d, load(p + f3))
                                x0 += 16
                            }
                        }
                        target[t0] += s0.sum()
                        if count > 1 { target[t0 + 1] += s1.sum() }
                        if count > 2 { target[t0 + 2] += s2.sum() }
                        if count > 3 { target[t0 + 3] += s3.sum() }
                        b0 += perPass
                    }
                }
            }
            pass.gradBias?[co] = biasSum
        }
    }

    /// target[t] += Σ over the plane of gradOut · input at tap t, for 9-tap kernels: all nine sums in
    /// registers in one pass (10 loads per 9 FMAs).
    private func weightGradient9(input: UnsafeMutablePointer<Float>, gradient: UnsafeMutablePointer<Float>,
                                 into target: UnsafeMutablePointer<Float>) {
        let g = geometry, oh = g.outHeight, ow = g.outWidth
        let o0 = tapOffsets[0], o1 = tapOffsets[1], o2 = tapOffsets[2], o3 = tapOffsets[3], o4 = tapOffsets[4]
        let o5 = tapOffsets[5], o6 = tapOffsets[6], o7 = tapOffsets[7], o8 = tapOffsets[8]
        var s0 = SIMD16<Float>(), s1 = SIMD16<Float>(), s2 = SIMD16<Float>(), s3 = SIMD16<Float>()
        var s4 = SIMD16<Float>(), s5 = SIMD16<Float>(), s6 = SIMD16<Float>(), s7 = SIMD16<Float>()
        var s8 = SIMD16<Float>()
        for y in 0..<oh {
            let row = UnsafePointer(input + y * g.strideHeight * rowStride)
            let grad = UnsafePointer(gradient + y * gradientStride + gradientLead)
            var x0 = 0
            // Lanes past OW read the zero margin of the gradient row.
            while x0 < ow {
                let d = load(grad + x0), p = row + x0
                s0 = s0.addingProduct(d, load(p + o0)); s1 = s1.addingProduct(d, load(p + o1))
                s2 = s2.addingProduct(d, load(p + o2)); s3 = s3.addingProduct(d, load(p + o3))
                s4 = s4.addingProduct(d, load(p + o4)); s5 = s5.addingProduct(d, load(p + o5))
                s6 = s6.addingProduct(d, load(p + o6)); s7 = s7.addingProduct(d, load(p + o7))
                s8 = s8.addingProduct(d, load(p + o8))
                x0 += 16
            }
        }
        target[0] += s0.sum(); target[1] += s1.sum(); target[2] += s2.sum()
        target[3] += s3.sum(); target[4] += s4.sum(); target[5] += s5.sum()
        target[6] += s6.sum(); target[7] += s7.sum(); target[8] += s8.sum()
    }

    /// What a forward / backwardData task reads (C-convention tasks cannot capture; the caller keeps `self` alive).
    private struct Pass {
        let kernel: Unmanaged<DepthwiseConvolution>
        let input: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?
        let output: UnsafeMutablePointer<Float>
    }

    /// What a backwardWeights task reads.
    private struct WeightsPass {
        let kernel: Unmanaged<DepthwiseConvolution>
        let batch: Int
        let input: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>
        let gradWeight: UnsafeMutablePointer<Float>, gradBias: UnsafeMutablePointer<Float>?
    }
}
