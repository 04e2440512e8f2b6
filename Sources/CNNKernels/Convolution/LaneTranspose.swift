/// 16 × 16 transposes between 16 images' planes and pixel vectors of 16 lanes (`LaneGrid`'s layout), with
/// `vpermi2ps` shuffles: four rounds of de-interleaving pairs of vectors transpose a 16 × 16 tile (each round
/// rotates the 8 index bits of an element by one), 64 shuffles where scalar copies take 256 loads and stores.
enum LaneTranspose {
    /// planes[lane][p] (lane at planes + lane·planeStride) for p < pixels and lanes < 16 → block[p][lane].
    static func toLanes(_ planes: UnsafePointer<Float>, planeStride: Int, pixels: Int, into block: UnsafeMutablePointer<Float>) {
        let lanes = LaneGrid.lanes
        var p = 0
        while p + lanes <= pixels {
            transpose(UnsafeRawPointer(planes + p), fromStride: 4 * planeStride, UnsafeMutableRawPointer(block + p * lanes),
                      toStride: 4 * lanes, shift: SIMD16())
            p += lanes
        }
        for lane in 0..<lanes {
            for q in p..<pixels { block[q * lanes + lane] = planes[lane * planeStride + q] }
        }
    }

    /// block[p][lane] + shift → planes[lane][p] (lane at planes + lane·planeStride) for p < pixels.
    static func fromLanes(_ block: UnsafePointer<Float>, pixels: Int, shift: Float, into planes: UnsafeMutablePointer<Float>,
                          planeStride: Int) {
        let lanes = LaneGrid.lanes
        var p = 0
        while p + lanes <= pixels {
            transpose(UnsafeRawPointer(block + p * lanes), fromStride: 4 * lanes, UnsafeMutableRawPointer(planes + p),
                      toStride: 4 * planeStride, shift: SIMD16(repeating: shift))
            p += lanes
        }
        for lane in 0..<lanes {
            for q in p..<pixels { planes[lane * planeStride + q] = block[q * lanes + lane] + shift }
        }
    }

    /// Row j of the result (at to + j·toStride bytes) = column j of the 16 rows at from + i·fromStride, + shift.
    /// The rounds run through two stack tiles in a loop: unrolled over 16 registers, the 64 shuffles exceed
    /// the inliner's budget and `evenHalf`/`oddHalf` become calls through memory.
    @inline(__always)
    static func transpose(_ from: UnsafeRawPointer, fromStride: Int, _ to: UnsafeMutableRawPointer, toStride: Int,
                          shift: SIMD16<Float>) {
        // Two stack tiles (the optimizer keeps them in registers and drops the zeroing).
        var first = zeroTile, second = zeroTile
        withUnsafeMutableBytes(of: &first) { a in
            withUnsafeMutableBytes(of: &second) { b in
                let vector = MemoryLayout<SIMD16<Float>>.stride
                for i in 0..<16 {
                    a.storeBytes(of: from.loadUnaligned(fromByteOffset: i * fromStride, as: SIMD16<Float>.self),
                                 toByteOffset: i * vector, as: SIMD16<Float>.self)
                }
                for round in 0..<4 {
                    let source = round % 2 == 0 ? UnsafeRawPointer(a.baseAddress!) : UnsafeRawPointer(b.baseAddress!)
                    let target = round % 2 == 0 ? b.baseAddress! : a.baseAddress!
                    for k in 0..<8 {
                        let (even, odd) = unshuffle(source.load(fromByteOffset: 2 * k * vector, as: SIMD16<Float>.self),
                                                    source.load(fromByteOffset: (2 * k + 1) * vector, as: SIMD16<Float>.self))
                        target.storeBytes(of: even, toByteOffset: k * vector, as: SIMD16<Float>.self)
                        target.storeBytes(of: odd, toByteOffset: (k + 8) * vector, as: SIMD16<Float>.self)
                    }
                }
                for j in 0..<16 {
                    to.storeBytes(of: a.load(fromByteOffset: j * vector, as: SIMD16<Float>.self) + shift,
                                  toByteOffset: j * toStride, as: SIMD16<Float>.self)
                }
            }
        }
    }

    /// Sixteen vectors: one tile.
    private typealias Tile = (SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>,
                              SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>,
                              SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>)
    private static let zeroTile: Tile = (.zero, .zero, .zero, .zero, .zero, .zero, .zero, .zero,
                                         .zero, .zero, .zero, .zero, .zero, .zero, .zero, .zero)

    @inline(__always)
    private static func unshuffle(_ a: SIMD16<Float>, _ b: SIMD16<Float>) -> (SIMD16<Float>, SIMD16<Float>) {
        let joined = SIMD32<Float>(lowHalf: a, highHalf: b)
        return (joined.evenHalf, joined.oddHalf)
    }
}
