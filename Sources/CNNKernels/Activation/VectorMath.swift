/// Vectorised transcendental functions for SIMD16<Float>, accurate to a few ulp (Cephes single
/// precision polynomials with Cody–Waite range reduction).
enum VectorMath {
    /// e^x; clamps its argument to [−87.33, 88]: below, the result stays at the smallest normal float
    /// (≈ 1.2e-38) and above at e^88 (≈ 1.65e38) — finite, so products like e^x·σ² stay NaN-free.
    /// (The upper clamp must keep the rounded exponent n = round(x/ln 2) ≤ 127: from x ≈ 88.38 on,
    /// n = 128 and 2^n would be infinite.)
    @inline(__always) static func exp(_ x: SIMD16<Float>) -> SIMD16<Float> {
        // Explicit selects: the generic `clamped` is not specialised into min/max instructions. NaN stays NaN.
        let low = SIMD16<Float>(repeating: -87.33), high = SIMD16<Float>(repeating: 88)
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

    /// Natural log for x > 0 (Cephes `logf`: mantissa m in [√½, √2), log(1 + (m − 1)) by a degree-9
    /// polynomial, exponent added as e·ln 2 split in two parts). Denormals are not renormalised
    /// (their log comes out a few percent off); 0 gives a large negative number, not −inf. Only
    /// used on arguments ≥ 1 (log1p) or ≥ k > 0 (LRN), where neither matters.
    @inline(__always) static func log(_ x: SIMD16<Float>) -> SIMD16<Float> {
        let bits = unsafeBitCast(x, to: SIMD16<Int32>.self)
        var exponent = SIMD16<Float>((bits &>> 23) &- 126)
        // Mantissa in [0.5, 1): keep the fraction bits, set the exponent of 0.5.
        var m = unsafeBitCast((bits & 0x007F_FFFF) | 0x3F00_0000, to: SIMD16<Float>.self)
        let small = m .< 0.707_106_781_186_547_524
        exponent.replace(with: exponent - 1, where: small)
        m = (m + m.replacing(with: 0, where: .!small)) - 1
        let z = m * m
        var p = SIMD16<Float>(repeating: 7.037_683_629_2e-2)
        p = (p * m) - 1.151_461_031_0e-1
        p = (p * m) + 1.167_699_874_0e-1
        p = (p * m) - 1.242_014_084_6e-1
        p = (p * m) + 1.424_932_278_7e-1
        p = (p * m) - 1.666_805_766_5e-1
        p = (p * m) + 2.000_071_476_5e-1
        p = (p * m) - 2.499_999_399_3e-1
        p = (p * m) + 3.333_333_117_4e-1
        var y = p * m * z
        y = y.addingProduct(exponent, SIMD16(repeating: -2.121_944_40e-4))
        y = y.addingProduct(z, SIMD16(repeating: -0.5))
        return (m + y).addingProduct(exponent, SIMD16(repeating: 0.693_359_375))
    }

    /// log(1 + x) for x ≥ 0 with full relative accuracy near 0 (Goldberg: log(w)·x/(w − 1) with
    /// w = 1 + x rounded, which cancels the rounding of w; x itself when w rounds to 1).
    @inline(__always) static func log1p(_ x: SIMD16<Float>) -> SIMD16<Float> {
        let w = 1 + x
        let denominator = w - 1
        let corrected = log(w) * (x / denominator)
        return corrected.replacing(with: x, where: denominator .== 0)
            .replacing(with: w, where: w .== .infinity)
    }

    /// Largest |x| for which `expm1` uses its Taylor series: the first dropped term, x⁹/9!, is
    /// then ≤ 1e-8 of the result, while above it e^x − 1 loses at most ~1 ulp of 1 to cancellation.
    static let expm1SeriesLimit: Float = 0.5

    /// e^x − 1 with full relative accuracy near 0 (ELU's negative branch near the kink).
    @inline(__always) static func expm1(_ x: SIMD16<Float>) -> SIMD16<Float> {
        // Horner form of x·(1 + x/2! + x²/3! + … + x⁷/8!).
        var p = SIMD16<Float>(repeating: 1.0 / 40_320)
        p = (p * x) + 1.0 / 5_040
        p = (p * x) + 1.0 / 720
        p = (p * x) + 1.0 / 120
        p = (p * x) + 1.0 / 24
        p = (p * x) + 1.0 / 6
        p = (p * x) + 0.5
        p = (p * x) + 1
        let series = p * x
        let direct = exp(x) - 1
        return direct.replacing(with: series, where: (x .< expm1SeriesLimit) .& (x .> -expm1SeriesLimit))
    }

    /// e^{−x²/2} to a few ulp even deep in the tail. Rounding x² to float32 would cost
    /// |x²/2|·2^−24 of absolute error in the exponent (1e-5 relative at |x| = 13), so x is split
    /// into xₕ (its top 12 significand bits, so xₕ² is exact) and the rest:
    /// x²/2 = xₕ²/2 + (x − xₕ)(x + xₕ)/2, the second part ≤ x²·2⁻¹¹ and exponentiated by a series.
    @inline(__always) static func expNegativeHalfSquare(_ x: SIMD16<Float>) -> SIMD16<Float> {
        let high = unsafeBitCast(unsafeBitCast(x, to: SIMD16<UInt32>.self) & 0xFFFF_F000, to: SIMD16<Float>.self)
        let exactPart = high * high * 0.5
        let c = (high - x) * (x + high) * 0.5  // −(x² − xₕ²)/2, |c| ≤ 0.09 for |x| ≤ 13.5
        // e^c = 1 + c + c²/2 + … + c⁵/120 (next term < 1e-9 for |c| ≤ 0.09).
        var series = SIMD16<Float>(repeating: 1.0 / 120)
        series = (series * c) + 1.0 / 24
        series = (series * c) + 1.0 / 6
        series = (series * c) + 0.5
        series = (series * c) + 1
        series = (series * c) + 1
        return exp(-exactPart) * series
    }

    /// Φ(x) (standard normal CDF) and φ(x) = e^{−x²/2}/√(2π) together, sharing e^{−x²/2}.
    ///
    /// Φ(−|x|) = erfc(|x|/√2)/2 uses Numerical Recipes' `erfcc` (a Chebyshev fit of erfc(z)·e^{z²}
    /// in t = 1/(1 + z/2), relative error < 1.2e-7 for all z ≥ 0), with e^{−z²} = e^{−x²/2} taken
    /// from `expNegativeHalfSquare`. Relative rather than absolute accuracy is the point: GELU's left
    /// tail x·Φ(x) would lose every digit through 1 + erf(x/√2). The right half is 1 − Φ(−x) (≥ ½, so
    /// no cancellation).
    @inline(__always) static func normalCDFAndDensity(_ x: SIMD16<Float>) -> (cdf: SIMD16<Float>, density: SIMD16<Float>) {
        let gaussian = expNegativeHalfSquare(x)
        let magnitude = x.replacing(with: -x, where: x .< 0)
        let z = magnitude * inverseSquareRootTwo
        let t = 1 / (1 + 0.5 * z)
        var p = SIMD16<Float>(repeating: 0.170_872_77)
        p = (p * t) - 0.822_152_23
        p = (p * t) + 1.488_515_87
        p = (p * t) - 1.135_203_98
        p = (p * t) + 0.278_868_07
        p = (p * t) - 0.186_288_06
        p = (p * t) + 0.096_784_18
        p = (p * t) + 0.374_091_96
        p = (p * t) + 1.000_023_68
        p = (p * t) - 1.265_512_23
        let lowerTail = 0.5 * t * exp(p) * gaussian  // Φ(−|x|)
        let cdf = (1 - lowerTail).replacing(with: lowerTail, where: x .< 0)
        return (cdf, gaussian * inverseSquareRootTwoPi)
    }

    /// 1/√2: x/√2 is the erf argument of the normal CDF.
    static let inverseSquareRootTwo: Float = 0.707_106_781_186_547_5

    /// 1/√(2π): normalises the standard normal density.
    static let inverseSquareRootTwoPi: Float = 0.398_942_280_401_432_7
}
