/// 16 × 16 float transposes in registers (four perfect-shuffle rounds, `vpermt2ps` each), shared by the
/// GEMM's packing, the patch lowering and the lane layout of the direct convolution.
enum Transpose16 {
    /// One row of a block.
    typealias Row = SIMD16<Float>
    /// Sixteen SIMD16 rows of a 16×16 block.
    typealias Block = (SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>,
                         SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>,
                         SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>,
                         SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>)

    /// dst[p·outStride + c] = src[c·stride + p] + shift for a 16×16 block (p, c < 16).
    @inline(__always)
    static func transpose(_ src: UnsafePointer<Float>, stride: Int, into dst: UnsafeMutablePointer<Float>,
                          outStride: Int, adding shift: SIMD16<Float> = SIMD16()) {
        @inline(__always) func row(_ r: Int) -> SIMD16<Float> {
            UnsafeRawPointer(src + r * stride).loadUnaligned(as: SIMD16<Float>.self)
        }
        var v: Block = (row(0), row(1), row(2), row(3), row(4), row(5), row(6), row(7),
                          row(8), row(9), row(10), row(11), row(12), row(13), row(14), row(15))
        v = transpose(v)
        @inline(__always) func store(_ r: Int, _ value: SIMD16<Float>) {
            UnsafeMutableRawPointer(dst + r * outStride).storeBytes(of: value + shift, as: SIMD16<Float>.self)
        }
        store(0, v.0); store(1, v.1); store(2, v.2); store(3, v.3)
        store(4, v.4); store(5, v.5); store(6, v.6); store(7, v.7)
        store(8, v.8); store(9, v.9); store(10, v.10); store(11, v.11)
        store(12, v.12); store(13, v.13); store(14, v.14); store(15, v.15)
    }

    /// dst[r·stride ..< r·stride + 16] = row r of `v`.
    @inline(__always)
    static func store(_ v: Block, into dst: UnsafeMutablePointer<Float>, stride: Int) {
        @inline(__always) func put(_ r: Int, _ value: Row) {
            UnsafeMutableRawPointer(dst + r * stride).storeBytes(of: value, as: Row.self)
        }
        put(0, v.0); put(1, v.1); put(2, v.2); put(3, v.3); put(4, v.4); put(5, v.5); put(6, v.6); put(7, v.7)
        put(8, v.8); put(9, v.9); put(10, v.10); put(11, v.11); put(12, v.12); put(13, v.13); put(14, v.14); put(15, v.15)
    }

    /// The transposed block: row j holds lane j of every input row.
    @inline(__always)
    static func transpose(_ v: Block) -> Block { perfectShuffle(perfectShuffle(perfectShuffle(perfectShuffle(v)))) }

    /// Zips rows r and r + 8 into rows 2r and 2r + 1: rotates the 8-bit (row, lane) index of every element
    /// left by one bit, so four rounds swap row and lane (a transpose).
    @inline(__always)
    static func perfectShuffle(_ v: Block) -> Block {
        (zipLow(v.0, v.8), zipHigh(v.0, v.8), zipLow(v.1, v.9), zipHigh(v.1, v.9),
         zipLow(v.2, v.10), zipHigh(v.2, v.10), zipLow(v.3, v.11), zipHigh(v.3, v.11),
         zipLow(v.4, v.12), zipHigh(v.4, v.12), zipLow(v.5, v.13), zipHigh(v.5, v.13),
         zipLow(v.6, v.14), zipHigh(v.6, v.14), zipLow(v.7, v.15), zipHigh(v.7, v.15))
    }

    /// [a0, b0, a1, b1, …, a7, b7].
    @inline(__always)
    static func zipLow(_ a: SIMD16<Float>, _ b: SIMD16<Float>) -> SIMD16<Float> {
        SIMD16(a[0], b[0], a[1], b[1], a[2], b[2], a[3], b[3], a[4], b[4], a[5], b[5], a[6], b[6], a[7], b[7])
    }

    /// [a8, b8, a9, b9, …, a15, b15].
    @inline(__always)
    static func zipHigh(_ a: SIMD16<Float>, _ b: SIMD16<Float>) -> SIMD16<Float> {
        SIMD16(a[8], b[8], a[9], b[9], a[10], b[10], a[11], b[11], a[12], b[12], a[13], b[13], a[14], b[14],
               a[15], b[15])
    }
}
