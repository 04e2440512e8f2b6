import CNNSpec
import Foundation

/// torchvision's colour adjustments on 8-bit planar images, exactly as they act on PIL images
/// (`adjust_brightness/contrast/saturation/hue`, i.e. Pillow's `ImageEnhance` and HSV conversion),
/// and `ColorJitter`'s random order and factors.
///
/// Planes are `channels` × `plane` bytes, adjusted in place. Grey images (1 channel) ignore saturation
/// and hue, as torchvision does for mode "L".
public enum ColorAdjustments {
    /// Pillow's `Image.blend(degenerate, image, factor)`: `degenerate + factor·(image − degenerate)` in
    /// single precision, truncated to 8 bits (clipped to 0…255 when `factor` is outside [0, 1]).
    @inline(__always)
    static func blend(_ degenerate: UInt8, _ value: UInt8, _ factor: Float) -> UInt8 {
        let mixed = Float(Int32(degenerate)) + factor * Float(Int32(value) - Int32(degenerate))
        if mixed <= 0 { return 0 }
        if mixed >= 255 { return 255 }
        return UInt8(mixed)
    }

    /// Pillow's RGB → L: `(r·19595 + g·38470 + b·7471 + 0x8000) >> 16`.
    @inline(__always)
    static func luma(_ r: UInt8, _ g: UInt8, _ b: UInt8) -> UInt8 {
        let red: UInt32 = UInt32(r) &* 19595, green: UInt32 = UInt32(g) &* 38470, blue: UInt32 = UInt32(b) &* 7471
        let sum: UInt32 = red &+ green &+ blue &+ 0x8000
        return UInt8(truncatingIfNeeded: sum >> 16)
    }

    /// `ImageEnhance.Brightness(img).enhance(factor)`: blend with black.
    public static func brightness(_ pixels: UnsafeMutablePointer<UInt8>, channels: Int, plane: Int, factor: Double) {
        let alpha = Float(factor)
        for index in 0..<(channels * plane) { pixels[index] = blend(0, pixels[index], alpha) }
    }

    /// `ImageEnhance.Contrast(img).enhance(factor)`: blend with the grey image of the picture's mean
    /// luma, `int(mean + 0.5)`.
    public static func contrast(_ pixels: UnsafeMutablePointer<UInt8>, channels: Int, plane: Int, factor: Double) {
        guard plane > 0 else { return }
        var sum = 0
        if channels == 3 {
            for index in 0..<plane { sum += Int(luma(pixels[index], pixels[plane + index], pixels[2 * plane + index])) }
        } else {
            for index in 0..<plane { sum += Int(pixels[index]) }
        }
        let mean = UInt8(min(255, Int(Double(sum) / Double(plane) + 0.5)))
        let alpha = Float(factor)
        for index in 0..<(channels * plane) { pixels[index] = blend(mean, pixels[index], alpha) }
    }

    /// `ImageEnhance.Color(img).enhance(factor)`: blend each pixel with its own luma.
    public static func saturation(_ pixels: UnsafeMutablePointer<UInt8>, channels: Int, plane: Int, factor: Double) {
        guard channels == 3 else { return }
        let alpha = Float(factor)
        for index in 0..<plane {
            let grey = luma(pixels[index], pixels[plane + index], pixels[2 * plane + index])
            for channel in 0..<3 { pixels[channel * plane + index] = blend(grey, pixels[channel * plane + index], alpha) }
        }
    }

    /// torchvision's `adjust_hue` on PIL: to Pillow's 8-bit HSV, add `uint8(int32(factor·255))` to H
    /// with wrap-around, back to RGB.
    public static func hue(_ pixels: UnsafeMutablePointer<UInt8>, channels: Int, plane: Int, factor: Double) {
        guard channels == 3 else { return }
        let shift = UInt8(truncatingIfNeeded: Int32(factor * 255))
        for index in 0..<plane {
            let (h, s, v) = toHSV(pixels[index], pixels[plane + index], pixels[2 * plane + index])
            let (r, g, b) = toRGB(h &+ shift, s, v)
            pixels[index] = r; pixels[plane + index] = g; pixels[2 * plane + index] = b
        }
    }

    @inline(__always)
    private static func clip8(_ value: Int) -> UInt8 { UInt8(max(0, min(255, value))) }

    /// Pillow's `rgb2hsv_row` (Convert.c): float arithmetic as C evaluates it (float variables, double constants).
    static func toHSV(_ r: UInt8, _ g: UInt8, _ b: UInt8) -> (UInt8, UInt8, UInt8) {
        let maxc = max(r, g, b), minc = min(r, g, b)
        guard minc != maxc else { return (0, 0, maxc) }
        let cr = Float(Int(maxc) - Int(minc))
        let s = cr / Float(maxc)
        let rc = Float(Int(maxc) - Int(r)) / cr
        let gc = Float(Int(maxc) - Int(g)) / cr
        let bc = Float(Int(maxc) - Int(b)) / cr
        var h: Float
        if r == maxc { h = bc - gc } else if g == maxc { h = Float(2.0 + Double(rc) - Double(bc)) } else { h = Float(4.0 + Double(gc) - Double(rc)) }
        h = Float(fmod(Double(h) / 6.0 + 1.0, 1.0))
        return (clip8(Int(Double(h) * 255.0)), clip8(Int(Double(s) * 255.0)), maxc)
    }

    /// Pillow's `hsv2rgb` (Convert.c).
    static func toRGB(_ h: UInt8, _ s: UInt8, _ v: UInt8) -> (UInt8, UInt8, UInt8) {
        guard s != 0 else { return (v, v, v) }
        let sector = Int((Double(Float(h)) * 6.0 / 255.0).rounded(.down))
        let f = Float(Double(Float(h)) * 6.0 / 255.0 - Double(sector))
        let fs = Float(Double(Float(s)) / 255.0)
        let value = Double(Float(v))
        let p = clip8(Int((value * (1.0 - Double(fs))).rounded(.toNearestOrAwayFromZero)))
        let q = clip8(Int((value * (1.0 - Double(fs * f))).rounded(.toNearestOrAwayFromZero)))
        let t = clip8(Int((value * (1.0 - Double(fs) * (1.0 - Double(f)))).rounded(.toNearestOrAwayFromZero)))
        switch sector % 6 {
        case 0: return (v, t, p)
        case 1: return (q, v, p)
        case 2: return (p, v, t)
        case 3: return (p, q, v)
        case 4: return (t, p, v)
        default: return (v, p, q)
        }
    }

    /// One draw of `ColorJitter.get_params`: the order of the four adjustments (a random permutation,
    /// as `torch.randperm(4)`) and a factor drawn uniformly from each range that is on (NaN when off).
    /// SIMD values, so a draw allocates nothing.
    public struct Draw: Equatable, Sendable {
        /// Operation indices in the order applied: 0 brightness, 1 contrast, 2 saturation, 3 hue.
        public var order: SIMD4<Int32>
        public var factors: SIMD4<Double>
    }

    public static func draw(_ spec: ColorJitterSpec, random: inout SplitMix64) -> Draw {
        var order = SIMD4<Int32>(0, 1, 2, 3)
        for index in stride(from: 3, to: 0, by: -1) {
            let other = random.index(below: index + 1)
            let swap = order[index]; order[index] = order[other]; order[other] = swap
        }
        var factors = SIMD4<Double>(repeating: .nan)
        func uniform(_ range: ClosedRange<Double>?, into index: Int) {
            guard let range else { return }
            factors[index] = range.lowerBound + random.nextUnit() * (range.upperBound - range.lowerBound)
        }
        // Drawn in torchvision's order, without building an array (no allocation per sample).
        uniform(spec.brightness, into: Operation.brightness.rawValue)
        uniform(spec.contrast, into: Operation.contrast.rawValue)
        uniform(spec.saturation, into: Operation.saturation.rawValue)
        uniform(spec.hue, into: Operation.hue.rawValue)
        return Draw(order: order, factors: factors)
    }

    /// Applies `draw` in its order (ColorJitter's `forward`). Allocates nothing.
    public static func apply(_ draw: Draw, to pixels: UnsafeMutablePointer<UInt8>, channels: Int, plane: Int) {
        for position in 0..<4 {
            let operation = Int(draw.order[position])
            let factor = draw.factors[operation]
            guard !factor.isNaN else { continue }
            switch Operation(rawValue: operation) {
            case .brightness: brightness(pixels, channels: channels, plane: plane, factor: factor)
            case .contrast: contrast(pixels, channels: channels, plane: plane, factor: factor)
            case .saturation: saturation(pixels, channels: channels, plane: plane, factor: factor)
            case .hue: hue(pixels, channels: channels, plane: plane, factor: factor)
            case nil: break  // invariant: draw() orders 0...3 only
            }
        }
    }

    /// ColorJitter's operations, numbered as torchvision's `fn_idx`.
    enum Operation: Int { case brightness, contrast, saturation, hue }
}
