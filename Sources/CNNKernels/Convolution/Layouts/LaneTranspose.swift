/// Moves between 16 images' planes and pixel vectors of 16 lanes (`LaneGrid`'s layout) in 16 × 16
/// register transposes (`Transpose16`: 64 shuffles where scalar copies take 256 loads and stores).
enum LaneTranspose {
    /// planes[lane][p] (lane at planes + lane·planeStride) for p < pixels and lanes < `count` → block[p][lane];
    /// lanes from `count` on (a batch's last, partial block) are zero and their planes are not read.
    static func toLanes(_ planes: UnsafePointer<Float>, planeStride: Int, pixels: Int, into block: UnsafeMutablePointer<Float>,
                        count: Int = LaneGrid.lanes) {
        let lanes = LaneGrid.lanes
        var p = 0
        while count == lanes && p + lanes <= pixels {
            Transpose16.transpose(planes + p, stride: planeStride, into: block + p * lanes, outStride: lanes)
            p += lanes
        }
        for lane in 0..<lanes {
            for q in p..<pixels { block[q * lanes + lane] = lane < count ? planes[lane * planeStride + q] : 0 }
        }
    }

    /// block[p][lane] + shift → planes[lane][p] (lane at planes + lane·planeStride) for p < pixels and lanes
    /// < `count` (the planes of a partial block's missing images are not written).
    static func fromLanes(_ block: UnsafePointer<Float>, pixels: Int, shift: Float, into planes: UnsafeMutablePointer<Float>,
                          planeStride: Int, count: Int = LaneGrid.lanes) {
        let lanes = LaneGrid.lanes
        var p = 0
        while count == lanes && p + lanes <= pixels {
            Transpose16.transpose(block + p * lanes, stride: lanes, into: planes + p, outStride: planeStride,
                                  adding: SIMD16(repeating: shift))
            p += lanes
        }
        for lane in 0..<count {
            for q in p..<pixels { planes[lane * planeStride + q] = block[q * lanes + lane] + shift }
        }
    }
}
