/// The register tile of both weight-gradient layouts (`StackedCorrelation`, `LaneConvolution.correlate`):
/// `rows` gradient rows × `inputs` shifted input vectors, one 16-float accumulator each — 4 × 5 (20
/// accumulators, 9 loads per 20 FMAs) in AVX-512's 32 registers, 2 × 3 in AVX2's 16; the sizes are the kernel
/// target's (`KernelTargetSpec.correlationRows`, `correlationInputs`) and constants at every call, so the
/// unused accumulators fold away.
struct CorrelationTile {
    /// One accumulator: 16 floats (a lane vector, or 16 positions of the stacked layout).
    typealias Lanes = SIMD16<Float>
    /// The largest tile any target uses.
    static let maximumRows = 4, maximumInputs = 5

    /// Entries of a patch-offset table for `patchSize`: padded so that a tile of any target's input count
    /// starting at any entry below patchSize stays inside it.
    static func paddedCount(_ patchSize: Int) -> Int { patchSize + maximumInputs - 1 }

    /// Entries of `patchOffsets`' table for `g`.
    static func patchOffsetCount(_ g: ConvolutionGeometry) -> Int { paddedCount(g.patchSize) }

    /// offset(ci, kh, kw) of every patch entry in (ci, kh, kw) order, padded with zeros to `paddedCount` (the
    /// padding entries' sums are dropped). The caller deallocates.
    static func patchOffsets(_ g: ConvolutionGeometry, _ offset: (Int, Int, Int) -> Int) -> UnsafeMutablePointer<Int> {
        let count = paddedCount(g.patchSize)
        let offsets = UnsafeMutablePointer<Int>.allocate(capacity: count)
        offsets.initialize(repeating: 0, count: count)
        var p = 0
        for ci in 0..<g.groupInChannels {
            for kh in 0..<g.kernelHeight {
                for kw in 0..<g.kernelWidth {
                    offsets[p] = offset(ci, kh, kw)
                    p += 1
                }
            }
        }
        return offsets
    }

    /// The tile's input pointers: float `offsets[t]` past `base` (unused ones repeat the first).
    struct Inputs {
        let x0: UnsafeRawPointer, x1: UnsafeRawPointer, x2: UnsafeRawPointer, x3: UnsafeRawPointer, x4: UnsafeRawPointer

        @inline(__always)
        init(_ base: UnsafeRawPointer, _ offsets: UnsafePointer<Int>, count: Int) {
            @inline(__always) func at(_ t: Int) -> UnsafeRawPointer {
                base + MemoryLayout<Float>.stride * offsets[t < count ? t : 0]
            }
            x0 = at(0); x1 = at(1); x2 = at(2); x3 = at(3); x4 = at(4)
        }
    }

    var a00 = Lanes(), a01 = Lanes(), a02 = Lanes(), a03 = Lanes(), a04 = Lanes()
    var a10 = Lanes(), a11 = Lanes(), a12 = Lanes(), a13 = Lanes(), a14 = Lanes()
    var a20 = Lanes(), a21 = Lanes(), a22 = Lanes(), a23 = Lanes(), a24 = Lanes()
    var a30 = Lanes(), a31 = Lanes(), a32 = Lanes(), a33 = Lanes(), a34 = Lanes()

    /// Calls `body(t, accumulator)` for the first `inputs` accumulators of gradient row r.
    @inline(__always)
    func forEach(row r: Int, inputs: Int, _ body: (Int, Lanes) -> Void) {
        let row: (Lanes, Lanes, Lanes, Lanes, Lanes)
        switch r {
        case 0: row = (a00, a01, a02, a03, a04)
        case 1: row = (a10, a11, a12, a13, a14)
        case 2: row = (a20, a21, a22, a23, a24)
        default: row = (a30, a31, a32, a33, a34)  // r == 3: tiles hold at most `maximumRows`
        }
        body(0, row.0)
        if inputs > 1 { body(1, row.1) }
        if inputs > 2 { body(2, row.2) }
        if inputs > 3 { body(3, row.3) }
        if inputs > 4 { body(4, row.4) }
    }

    /// a_rt += gradient row r (at gradientByte + r·rowBytes) · input t (at x_t + inputByte), for r < rows and
    /// t < inputs.
    @inline(__always)
    mutating func add(gradient g: UnsafeRawPointer, rowBytes: Int, gradientByte: Int, _ x: Inputs, inputByte: Int,
                      rows: Int, inputs: Int) {
        let g0 = g.loadUnaligned(fromByteOffset: gradientByte, as: Lanes.self)
        let g1 = rows > 1 ? g.loadUnaligned(fromByteOffset: gradientByte + rowBytes, as: Lanes.self) : Lanes()
        let g2 = rows > 2 ? g.loadUnaligned(fromByteOffset: gradientByte + 2 * rowBytes, as: Lanes.self) : Lanes()
        let g3 = rows > 3 ? g.loadUnaligned(fromByteOffset: gradientByte + 3 * rowBytes, as: Lanes.self) : Lanes()
        @inline(__always) func column(_ v: Lanes, _ a0: inout Lanes, _ a1: inout Lanes, _ a2: inout Lanes, _ a3: inout Lanes) {
            a0 = a0.addingProduct(g0, v)
            if rows > 1 { a1 = a1.addingProduct(g1, v) }
            if rows > 2 { a2 = a2.addingProduct(g2, v) }
            if rows > 3 { a3 = a3.addingProduct(g3, v) }
        }
        column(x.x0.loadUnaligned(fromByteOffset: inputByte, as: Lanes.self), &a00, &a10, &a20, &a30)
        if inputs > 1 { column(x.x1.loadUnaligned(fromByteOffset: inputByte, as: Lanes.self), &a01, &a11, &a21, &a31) }
        if inputs > 2 { column(x.x2.loadUnaligned(fromByteOffset: inputByte, as: Lanes.self), &a02, &a12, &a22, &a32) }
        if inputs > 3 { column(x.x3.loadUnaligned(fromByteOffset: inputByte, as: Lanes.self), &a03, &a13, &a23, &a33) }
        if inputs > 4 { column(x.x4.loadUnaligned(fromByteOffset: inputByte, as: Lanes.self), &a04, &a14, &a24, &a34) }
    }
}
