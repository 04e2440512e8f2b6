import CNNKernels
import CNNSpec
import Foundation

/// A sample's transform list compiled for one input shape: geometric steps on the 8-bit image
/// (torchvision's PIL semantics), then one fused pass producing Float32 with `scale` and `normalize`.
///
/// All working memory is caller-provided scratch (`scratchBytes`), so `apply` allocates nothing and
/// can run on many threads at once with separate scratch and random generators.
public final class TransformPipeline: @unchecked Sendable {
    /// The steps with `normalize: auto` replaced by the values used; record these in the run folder.
    public let resolvedSteps: [TransformSpec]
    public let inputChannels: Int
    public let inputHeight: Int
    public let inputWidth: Int
    /// Shape of one transformed sample: [channels, height, width].
    public let outputChannels: Int
    public let outputHeight: Int
    public let outputWidth: Int
    /// Bytes of scratch one concurrent `apply` needs.
    public let scratchBytes: Int
    /// True when some step draws random numbers.
    public let isRandom: Bool

    public var outputCount: Int { outputChannels * outputHeight * outputWidth }

    private enum Stage {
        case resize(PILBilinearResizer)
        case rotate(degrees: Double)
        case crop(height: Int, width: Int, padding: Int)
        case flip(probability: Double)
    }

    private struct StageShape { var height: Int; var width: Int }

    private let stages: [(Stage, input: StageShape, output: StageShape)]
    private let planeBytes: Int
    private let resizeScratchBytes: Int
    /// Per channel: output = pixel × multiplier + offset (folds scale and normalize).
    private let multipliers: [Float]
    private let offsets: [Float]

    /// Compiles `steps` for `channels`×`height`×`width` 8-bit images. `statistics` supplies
    /// `normalize: auto` (compute it with `ChannelStatistics(of:)` on the training file).
    public init(steps: [TransformSpec], channels: Int, height: Int, width: Int,
                statistics: ChannelStatistics? = nil) throws(DataError) {
        inputChannels = channels; inputHeight = height; inputWidth = width
        var shape = StageShape(height: height, width: width)
        var compiled: [(Stage, input: StageShape, output: StageShape)] = []
        var largestPlane = height * width
        var resizeScratch = 0
        var scale: Float = 1
        var mean = [Float](repeating: 0, count: channels)
        var std = [Float](repeating: 1, count: channels)
        var resolved: [TransformSpec] = []
        for step in steps {
            var resolvedStep = step
            let before = shape
            switch step {
            case .scale:
                scale = 1 / 255
            case .normalize(let spec):
                var values: (mean: [Double], std: [Double])
                switch spec {
                case .auto:
                    guard let statistics else {
                        throw DataError("normalize: auto needs statistics of the training set, and none were computed")
                    }
                    values = (statistics.mean, statistics.std)
                    resolvedStep = .normalize(.fixed(mean: statistics.mean, std: statistics.std))
                case .fixed(let givenMean, let givenStd):
                    values = (givenMean, givenStd)
                }
                for (name, list) in [("mean", values.mean), ("std", values.std)] where list.count != 1 && list.count != channels {
                    throw DataError("normalize \(name) has \(list.count) values but the images have \(channels) channels")
                }
                mean = (0..<channels).map { Float(values.mean[values.mean.count == 1 ? 0 : $0]) }
                std = (0..<channels).map { Float(values.std[values.std.count == 1 ? 0 : $0]) }
            case .resize(let newHeight, let newWidth):
                let resizer = PILBilinearResizer(inputHeight: shape.height, inputWidth: shape.width,
                                                 outputHeight: newHeight, outputWidth: newWidth)
                resizeScratch = max(resizeScratch, resizer.scratchCount)
                shape = StageShape(height: newHeight, width: newWidth)
                compiled.append((.resize(resizer), before, shape))
            case .randomRotation(let degrees):
                compiled.append((.rotate(degrees: degrees), before, shape))
            case .randomCrop(let cropHeight, let cropWidth, let padding):
                guard cropHeight <= shape.height + 2 * padding, cropWidth <= shape.width + 2 * padding else {
                    throw DataError("random_crop of \(cropHeight)×\(cropWidth) is larger than the \(shape.height)×\(shape.width) image padded by \(padding)",
                                    hint: "crop at most the padded size, or resize first")
                }
                shape = StageShape(height: cropHeight, width: cropWidth)
                compiled.append((.crop(height: cropHeight, width: cropWidth, padding: padding), before, shape))
            case .horizontalFlip(let probability):
                compiled.append((.flip(probability: probability), before, shape))
            }
            largestPlane = max(largestPlane, shape.height * shape.width)
            resolved.append(resolvedStep)
        }
        resolvedSteps = resolved
        stages = compiled
        outputChannels = channels; outputHeight = shape.height; outputWidth = shape.width
        planeBytes = largestPlane
        resizeScratchBytes = resizeScratch
        scratchBytes = 2 * channels * largestPlane + resizeScratch
        isRandom = steps.contains { $0.isRandom }
        multipliers = (0..<channels).map { scale / std[$0] }
        offsets = (0..<channels).map { -mean[$0] / std[$0] }
    }

    /// Transforms one sample from `source` (input shape, 8-bit) into `destination` (`outputCount` floats).
    /// `scratch` must hold `scratchBytes`; `random` drives the random steps, in list order.
    public func apply(_ source: UnsafePointer<UInt8>, into destination: UnsafeMutablePointer<Float>,
                      scratch: UnsafeMutablePointer<UInt8>, random: inout SplitMix64) {
        let bufferBytes = inputChannels * planeBytes
        var current = source
        var target = scratch
        let spare = scratch + bufferBytes
        let resizeScratch = scratch + 2 * bufferBytes
        for (stage, input, output) in stages {
            let inPlane = input.height * input.width
            let outPlane = output.height * output.width
            switch stage {
            case .resize(let resizer):
                for channel in 0..<inputChannels {
                    resizer.resize(current + channel * inPlane, into: target + channel * outPlane, scratch: resizeScratch)
                }
            case .rotate(let degrees):
                let angle = (random.nextUnit() * 2 - 1) * degrees
                Self.rotate(current, into: target, channels: inputChannels, height: input.height, width: input.width,
                            degrees: angle)
            case .crop(let height, let width, let padding):
                let top = Int(random.next() % UInt64(input.height + 2 * padding - height + 1))
                let left = Int(random.next() % UInt64(input.width + 2 * padding - width + 1))
                for channel in 0..<inputChannels {
                    let from = current + channel * inPlane, to = target + channel * outPlane
                    for y in 0..<height {
                        let sourceY = y + top - padding
                        for x in 0..<width {
                            let sourceX = x + left - padding
                            let inside = sourceY >= 0 && sourceY < input.height && sourceX >= 0 && sourceX < input.width
                            to[y * width + x] = inside ? from[sourceY * input.width + sourceX] : 0
                        }
                    }
                }
            case .flip(let probability):
                let mirror = random.nextUnit() < probability
                for channel in 0..<inputChannels {
                    let from = current + channel * inPlane, to = target + channel * outPlane
                    for y in 0..<input.height {
                        for x in 0..<input.width {
                            to[y * input.width + x] = from[y * input.width + (mirror ? input.width - 1 - x : x)]
                        }
                    }
                }
            }
            current = UnsafePointer(target)
            target = target == scratch ? spare : scratch
        }
        let plane = outputHeight * outputWidth
        for channel in 0..<outputChannels {
            let multiplier = multipliers[channel], offset = offsets[channel]
            let from = current + channel * plane, to = destination + channel * plane
            for index in 0..<plane { to[index] = Float(from[index]) * multiplier + offset }
        }
    }

    /// Pillow's `Image.rotate(angle, NEAREST, fillcolor=0)` (counter-clockwise about the centre,
    /// same size), as torchvision's `RandomRotation` does to PIL images.
    static func rotate(_ source: UnsafePointer<UInt8>, into destination: UnsafeMutablePointer<UInt8>,
                               channels: Int, height: Int, width: Int, degrees: Double) {
        let radians = -degrees * Double.pi / 180
        let round15 = { (value: Double) in (value * 1e15).rounded() / 1e15 }
        let a = round15(cos(radians)), b = round15(sin(radians))
        let d = round15(-sin(radians)), e = round15(cos(radians))
        let centerX = Double(width) / 2, centerY = Double(height) / 2
        let c = a * -centerX + b * -centerY + centerX
        let f = d * -centerX + e * -centerY + centerY
        let plane = height * width
        for y in 0..<height {
            let pixelY = Double(y) + 0.5
            for x in 0..<width {
                let pixelX = Double(x) + 0.5
                let sourceX = a * pixelX + b * pixelY + c
                let sourceY = d * pixelX + e * pixelY + f
                let column = sourceX < 0 ? -1 : Int(sourceX)
                let row = sourceY < 0 ? -1 : Int(sourceY)
                let inside = column >= 0 && column < width && row >= 0 && row < height
                for channel in 0..<channels {
                    destination[channel * plane + y * width + x] = inside ? source[channel * plane + row * width + column] : 0
                }
            }
        }
    }
}
