/// Vectorised transcendental functions for SIMD16<Float>, accurate to a few ulp (Cephes single
/// precision polynomials with Cody–Waite range reduction).
enum VectorMath {
    /// e^x; underflows to 0 below −87.3 and saturates at e^88.7 (≈ 3.4e38) above.
    @inline(__always) static func exp(_ x: SIMD16<Float>) -> SIMD16<Float> {
        // Explicit selects: the generic `clamped` is not specialised into min/max instructions. NaN stays NaN.
        let low = SIMD16<Float>(repeating: -87.33), high = SIMD16<Float>(repeating: 88.72)
        let clamped = x.replacing(with: low, where: x .< low).replacing(with: high, where: x .> high)
        let magic = SIMD16<Float>(repeating: 12_582_912)  // 1.5·2^23: adding it rounds to an integer
        let shifted = (clamped * 1.442_695_04).addingProduct(SIMD16(repeating: 1), magic)
        let n = shifted - magic
        var r = clamped.addingProduct(n, SIMD16(repeating: -0.693_359_375))
        r = r.addingProduct(n, SIMD16(repeating: 2.121_944_4e-4))
        var p = SIMD16<Float>(repeating: 1.987_569_15e-4)
        p = (p * r) + 1.398_199_950_7e-3
        p = (p * r) + 8.333_451_907_3e-3
        p = (p * r) + 4.166_579_589_4e-2
        p = (p * r) + 1.666_666_545_9e-1
        p = (p * r) + 5.000_000_120_1e-1
        let polynomial = (p * (r * r)) + r + 1
        let exponent = unsafeBitCast(shifted, to: SIMD16<Int32>.self) &- 0x4B40_0000
        let scale = unsafeBitCast((exponent &+ 127) &<< 23, to: SIMD16<Float>.self)
        return polynomial * scale
    }

    /// 1 / (1 + e^−x).
    @inline(__always) static func sigmoid(_ x: SIMD16<Float>) -> SIMD16<Float> {
        1 / (1 + exp(-x))
    }

    /// tanh: odd polynomial for |x| < 0.625 (no cancellation near 0), else 1 − 2/(e^{2|x|} + 1).
    @inline(__always) static func tanh(_ x: SIMD16<Float>) -> SIMD16<Float> {
        let bits = unsafeBitCast(x, to: SIMD16<UInt32>.self)
        let sign = bits & 0x8000_0000
        let magnitude = unsafeBitCast(bits & 0x7FFF_FFFF, to: SIMD16<Float>.self)
        let z = x * x
        var p = SIMD16<Float>(repeating: -5.704_988_727_45e-3)
        p = (p * z) + 2.063_908_879_54e-2
        p = (p * z) - 5.373_971_555_31e-2
        p = (p * z) + 1.333_144_220_36e-1
        p = (p * z) - 3.333_328_194_22e-1
        let small = x.addingProduct(x * z, p)
        let largeMagnitude = 1 - 2 / (exp(magnitude + magnitude) + 1)
        let large = unsafeBitCast(unsafeBitCast(largeMagnitude, to: SIMD16<UInt32>.self) | sign, to: SIMD16<Float>.self)
        return large.replacing(with: small, where: magnitude .< 0.625)
    }

    /// √x for x ≥ 0 (0 at 0) to about 2 ulp: x·rsqrt(x) with a bit-level estimate and three Newton
    /// steps. The standard library's SIMD `squareRoot()` calls `sqrtf` once per lane.
    @inline(__always) static func squareRoot(_ x: SIMD16<Float>) -> SIMD16<Float> {
        let bits = unsafeBitCast(x, to: SIMD16<UInt32>.self)
        var y = unsafeBitCast(0x5F37_5A86 &- (bits &>> 1), to: SIMD16<Float>.self)
        let half = x * 0.5
        y = y * (1.5 - half * y * y)
        y = y * (1.5 - half * y * y)
        y = y * (1.5 - half * y * y)
        return x * y
    }
}
