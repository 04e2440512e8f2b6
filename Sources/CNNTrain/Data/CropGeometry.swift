import CNNSpec
import Foundation

/// The sizes and boxes of torchvision's resizing and cropping transforms, computed as torchvision
/// computes them (Python's `int()` truncation and round-half-to-even included).
public enum CropGeometry {
    /// A picture's size in pixels.
    public struct Size: Hashable, Sendable {
        public var height: Int
        public var width: Int
        public init(height: Int, width: Int) { self.height = height; self.width = width }
        public var plane: Int { height * width }
    }

    /// A crop box in the picture's pixel coordinates; `top`/`left` are negative where it extends past the
    /// picture (those pixels are 0, torchvision's padding fill).
    public struct Box: Equatable, Sendable {
        public var top: Int
        public var left: Int
        public var height: Int
        public var width: Int
        public init(top: Int, left: Int, height: Int, width: Int) {
            self.top = top; self.left = left; self.height = height; self.width = width
        }
    }

    /// torchvision `Resize(size)` with an int: the shorter side becomes `size`, the longer
    /// `int(size · long / short)` (`_compute_resized_output_size`).
    public static func shorterSide(_ size: Int, of input: Size) -> Size {
        let short = min(input.height, input.width), long = max(input.height, input.width)
        let newLong = Int(Double(size) * Double(long) / Double(short))
        return input.width <= input.height ? Size(height: newLong, width: size) : Size(height: size, width: newLong)
    }

    /// Python's `round()`: halves go to the even neighbour.
    @inline(__always)
    static func pythonRound(_ value: Double) -> Int { Int(value.rounded(.toNearestOrEven)) }

    /// torchvision `CenterCrop((h, w))`: pad with zeros (left/top get the smaller half) where the crop is
    /// larger, then take the box at `round((H − h) / 2)`, `round((W − w) / 2)`.
    public static func centerCrop(height: Int, width: Int, of input: Size) -> Box {
        func origin(_ inputSide: Int, _ cropSide: Int) -> Int {
            cropSide > inputSide ? -((cropSide - inputSide) / 2) : pythonRound(Double(inputSide - cropSide) / 2)
        }
        return Box(top: origin(input.height, height), left: origin(input.width, width), height: height, width: width)
    }

    /// Tries of `RandomResizedCrop.get_params` before its central fallback.
    static let randomResizedCropTries = 10

    /// torchvision `RandomResizedCrop.get_params`: up to 10 draws of an area fraction (uniform in `scale`)
    /// and an aspect ratio (log-uniform in `ratio`); the first box that fits is placed uniformly at random.
    /// When none fits, the central box of the picture clamped to `ratio` (the fallback).
    public static func randomResizedCrop(of input: Size, scale: ClosedRange<Double>, ratio: ClosedRange<Double>,
                                         random: inout SplitMix64) -> Box {
        let area = Double(input.height * input.width)
        let logLow = log(ratio.lowerBound), logHigh = log(ratio.upperBound)
        for _ in 0..<randomResizedCropTries {
            let targetArea = area * (scale.lowerBound + random.nextUnit() * (scale.upperBound - scale.lowerBound))
            let aspect = exp(logLow + random.nextUnit() * (logHigh - logLow))
            let width = pythonRound((targetArea * aspect).squareRoot())
            let height = pythonRound((targetArea / aspect).squareRoot())
            if width > 0, width <= input.width, height > 0, height <= input.height {
                let top = random.index(below: input.height - height + 1)
                let left = random.index(below: input.width - width + 1)
                return Box(top: top, left: left, height: height, width: width)
            }
        }
        return randomResizedCropFallback(of: input, ratio: ratio)
    }

    /// `RandomResizedCrop.get_params`' fallback: the whole picture, narrowed (or shortened) to the
    /// nearest end of `ratio`, centred.
    public static func randomResizedCropFallback(of input: Size, ratio: ClosedRange<Double>) -> Box {
        let inputRatio = Double(input.width) / Double(input.height)
        var width = input.width, height = input.height
        if inputRatio < ratio.lowerBound {
            height = pythonRound(Double(width) / ratio.lowerBound)
        } else if inputRatio > ratio.upperBound {
            width = pythonRound(Double(height) * ratio.upperBound)
        }
        return Box(top: (input.height - height) / 2, left: (input.width - width) / 2, height: height, width: width)
    }

    /// Copies `box` of each of `channels` planes of `source` (`input` sized) into `destination`
    /// (`box.height × box.width` planes), with 0 outside the picture.
    static func copy(_ box: Box, from source: UnsafePointer<UInt8>, input: Size, channels: Int,
                     into destination: UnsafeMutablePointer<UInt8>) {
        let inPlane = input.plane, outPlane = box.height * box.width
        for channel in 0..<channels {
            let from = source + channel * inPlane, to = destination + channel * outPlane
            for y in 0..<box.height {
                let sourceY = y + box.top
                let row = to + y * box.width
                guard sourceY >= 0, sourceY < input.height else {
                    row.update(repeating: 0, count: box.width)
                    continue
                }
                let firstInside = max(0, -box.left), endInside = min(box.width, input.width - box.left)
                guard firstInside < endInside else {
                    row.update(repeating: 0, count: box.width)
                    continue
                }
                if firstInside > 0 { row.update(repeating: 0, count: firstInside) }
                (row + firstInside).update(from: from + sourceY * input.width + box.left + firstInside, count: endInside - firstInside)
                if endInside < box.width { (row + endInside).update(repeating: 0, count: box.width - endInside) }
            }
        }
    }
}
