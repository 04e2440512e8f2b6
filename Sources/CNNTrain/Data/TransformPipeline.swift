import CNNKernels
import CNNSpec
import Foundation

/// A sample's transform list compiled for the input sizes it will see: geometric and colour steps on
/// the 8-bit image (torchvision's PIL semantics), then one fused pass producing Float32 with `scale`
/// and `normalize`.
///
/// Inputs have one size (the built-in datasets, folder pictures resized to the model's input) or, for
/// folder datasets kept at their own size, any of the sizes given at init; every input must give the
/// same output shape (a list on pictures of varying size must fix the size with `center_crop`,
/// `random_resized_crop`, `random_crop` or `resize: [h, w]`).
///
/// All working memory is caller-provided scratch (`scratchBytes`), so `apply` can run on many threads
/// at once with separate scratch and random generators. Resizes whose input size is the same for
/// every sample use coefficients computed here, so that `apply` allocates nothing; the others
/// (pictures of varying size, `random_resized_crop` boxes) compute their coefficients per sample.
public final class TransformPipeline: @unchecked Sendable {
    /// The steps with `normalize: auto` replaced by the values used; record these in the run folder.
    public let resolvedSteps: [TransformSpec]
    public let inputChannels: Int
    /// The input size (the largest of the input sizes when they vary).
    public let inputHeight: Int
    public let inputWidth: Int
    /// True when inputs come in several sizes (`apply(_:height:width:…)` takes each sample's size).
    public let inputSizesVary: Bool
    /// Shape of one transformed sample: [channels, height, width].
    public let outputChannels: Int
    public let outputHeight: Int
    public let outputWidth: Int
    /// Bytes of scratch one concurrent `apply` needs for any of the input sizes given at init.
    public let scratchBytes: Int
    /// True when some step draws random numbers.
    public let isRandom: Bool

    public var outputCount: Int { outputChannels * outputHeight * outputWidth }

    private typealias Size = CropGeometry.Size

    private enum Stage {
        /// To an exact size; `fixed` when every sample reaches this step at one size.
        case resize(Size, fixed: PILBilinearResizer?)
        case resizeShorter(Int, fixed: PILBilinearResizer?)
        case centerCrop(Size)
        case randomResizedCrop(RandomResizedCropSpec)
        case rotate(degrees: Double)
        case crop(Size, padding: Int)
        case flip(probability: Double)
        case verticalFlip(probability: Double)
        case jitter(ColorJitterSpec)

        /// The size this step gives an input of size `input` (random boxes are resized to a fixed size).
        func output(for input: Size) -> Size {
            switch self {
            case .resize(let size, _): return size
            case .resizeShorter(let side, _): return CropGeometry.shorterSide(side, of: input)
            case .centerCrop(let size): return size
            case .randomResizedCrop(let spec): return Size(height: spec.height, width: spec.width)
            case .crop(let size, _): return size
            case .rotate, .flip, .verticalFlip, .jitter: return input
            }
        }
    }

    private let stages: [Stage]
    /// Bytes of each ping-pong buffer (the largest picture any step makes from the init's sizes).
    private let bufferBytes: Int
    private let resizeScratchBytes: Int
    /// Per channel: output = pixel × multiplier + offset (folds scale and normalize).
    private let multipliers: [Float]
    private let offsets: [Float]

    /// Compiles `steps` for `channels`×`height`×`width` 8-bit images. `statistics` supplies
    /// `normalize: auto` (compute it with `ChannelStatistics(of:)` on the training file).
    public convenience init(steps: [TransformSpec], channels: Int, height: Int, width: Int,
                            statistics: ChannelStatistics? = nil) throws(DataError) {
        try self.init(steps: steps, channels: channels, inputSizes: [CropGeometry.Size(height: height, width: width)],
                      statistics: statistics)
    }

    /// Compiles `steps` for `channels`-channel 8-bit images of any of `inputSizes` (not empty).
    public init(steps: [TransformSpec], channels: Int, inputSizes: [CropGeometry.Size],
                statistics: ChannelStatistics? = nil) throws(DataError) {
        let sizes = Array(Set(inputSizes)).sorted { ($0.height, $0.width) < ($1.height, $1.width) }
        guard let first = sizes.first else { throw DataError("internal: a transform list compiled for no input size") }
        inputChannels = channels
        inputHeight = sizes.map(\.height).max() ?? first.height
        inputWidth = sizes.map(\.width).max() ?? first.width
        inputSizesVary = sizes.count > 1
        var scale: Float = 1
        var mean = [Float](repeating: 0, count: channels)
        var std = [Float](repeating: 1, count: channels)
        var resolved: [TransformSpec] = []
        var compiled: [Stage] = []
        // The distinct sizes reaching the current step, and the largest plane and resize scratch seen.
        var current = sizes
        var largestPlane = sizes.map(\.plane).max() ?? 0
        var resizeScratch = 0
        func note(_ stage: Stage, from inputs: [Size]) {
            let outputs = inputs.map { stage.output(for: $0) }
            for (input, output) in zip(inputs, outputs) {
                largestPlane = max(largestPlane, output.plane)
                switch stage {
                case .resize, .resizeShorter, .randomResizedCrop:
                    // The horizontal pass keeps the input's (or the box's, at most the input's) height.
                    resizeScratch = max(resizeScratch, input.height * output.width)
                case .centerCrop, .rotate, .crop, .flip, .verticalFlip, .jitter: break
                }
            }
            current = Array(Set(outputs))
        }
        for step in steps {
            var resolvedStep = step
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
            case .resize(let height, let width):
                let target = Size(height: height, width: width)
                let fixed = current.count == 1 ? PILBilinearResizer(inputHeight: current[0].height, inputWidth: current[0].width,
                                                                    outputHeight: height, outputWidth: width) : nil
                let stage = Stage.resize(target, fixed: fixed)
                note(stage, from: current); compiled.append(stage)
            case .resizeShorter(let side):
                var fixed: PILBilinearResizer?
                if current.count == 1 {
                    let output = CropGeometry.shorterSide(side, of: current[0])
                    fixed = PILBilinearResizer(inputHeight: current[0].height, inputWidth: current[0].width,
                                               outputHeight: output.height, outputWidth: output.width)
                }
                for size in current where CropGeometry.shorterSide(side, of: size).plane > Self.largestIntermediatePlane {
                    throw DataError("resize: \(side) makes a \(size.height)×\(size.width) picture \(CropGeometry.shorterSide(side, of: size).height)×\(CropGeometry.shorterSide(side, of: size).width), larger than \(Self.largestIntermediatePlane) pixels",
                                    hint: "a picture this narrow is probably a mistake; remove it or resize to [height, width]")
                }
                let stage = Stage.resizeShorter(side, fixed: fixed)
                note(stage, from: current); compiled.append(stage)
            case .centerCrop(let height, let width):
                let stage = Stage.centerCrop(Size(height: height, width: width))
                note(stage, from: current); compiled.append(stage)
            case .randomResizedCrop(let spec):
                let stage = Stage.randomResizedCrop(spec)
                note(stage, from: current); compiled.append(stage)
            case .randomRotation(let degrees):
                let stage = Stage.rotate(degrees: degrees)
                note(stage, from: current); compiled.append(stage)
            case .randomCrop(let cropHeight, let cropWidth, let padding):
                for size in current where cropHeight > size.height + 2 * padding || cropWidth > size.width + 2 * padding {
                    throw DataError("random_crop of \(cropHeight)×\(cropWidth) is larger than the \(size.height)×\(size.width) image padded by \(padding)",
                                    hint: "crop at most the padded size, or resize first")
                }
                let stage = Stage.crop(Size(height: cropHeight, width: cropWidth), padding: padding)
                note(stage, from: current); compiled.append(stage)
            case .horizontalFlip(let probability):
                compiled.append(.flip(probability: probability))
            case .verticalFlip(let probability):
                compiled.append(.verticalFlip(probability: probability))
            case .colorJitter(let spec):
                compiled.append(.jitter(spec))
            }
            resolved.append(resolvedStep)
        }
        guard current.count == 1, let output = current.first else {
            let examples = current.prefix(3).map { "\($0.height)×\($0.width)" }.joined(separator: ", ")
            throw DataError("the transforms give pictures of varying size (\(examples), …), but a batch needs one size",
                            hint: "end the resizing steps with center_crop, random_resized_crop or resize: [height, width] (see docs/photos.md)")
        }
        resolvedSteps = resolved
        stages = compiled
        outputChannels = channels; outputHeight = output.height; outputWidth = output.width
        bufferBytes = channels * largestPlane
        resizeScratchBytes = resizeScratch
        scratchBytes = 2 * bufferBytes + resizeScratch
        isRandom = steps.contains { $0.isRandom }
        multipliers = (0..<channels).map { scale / std[$0] }
        offsets = (0..<channels).map { -mean[$0] / std[$0] }
    }

    /// Largest picture (pixels per channel) a `resize` of the shorter side may produce: 64 MP, far above
    /// any CNN input; guards against a 1-pixel-wide picture becoming gigabytes.
    public static let largestIntermediatePlane = 1 << 26

    /// The scratch `apply` needs for one input of `height`×`width` (a size not given at init, e.g. a
    /// picture to classify), or a `DataError` when the list cannot take that size to the output shape.
    public func scratchBytes(height: Int, width: Int) throws(DataError) -> Int {
        if !inputSizesVary, height == inputHeight, width == inputWidth { return scratchBytes }
        let probe = try TransformPipeline(steps: resolvedSteps, channels: inputChannels,
                                          inputSizes: [CropGeometry.Size(height: height, width: width)])
        guard probe.outputHeight == outputHeight, probe.outputWidth == outputWidth else {
            throw DataError("the transforms turn a \(height)×\(width) picture into \(probe.outputHeight)×\(probe.outputWidth), not \(outputHeight)×\(outputWidth)")
        }
        return 2 * bufferBytes(for: Size(height: height, width: width)) + max(resizeScratchBytes, probe.resizeScratchBytes)
    }

    /// Bytes of each of the two ping-pong buffers for an input of `size`: the init's, or more for a
    /// larger picture. Walks the stages without allocating.
    private func bufferBytes(for size: Size) -> Int {
        var current = size, largest = size.plane
        for stage in stages {
            current = stage.output(for: current)
            largest = max(largest, current.plane)
        }
        return max(bufferBytes, inputChannels * largest)
    }

    /// Transforms one sample of the init's (single) input size; see `apply(_:height:width:into:scratch:random:)`.
    public func apply(_ source: UnsafePointer<UInt8>, into destination: UnsafeMutablePointer<Float>,
                      scratch: UnsafeMutablePointer<UInt8>, random: inout SplitMix64) {
        apply(source, height: inputHeight, width: inputWidth, into: destination, scratch: scratch, random: &random)
    }

    /// Transforms one `height`×`width` sample from `source` (8-bit, planar) into `destination`
    /// (`outputCount` floats). `scratch` must hold `scratchBytes` (or `scratchBytes(height:width:)` for a
    /// size not given at init); `random` drives the random steps, in list order.
    public func apply(_ source: UnsafePointer<UInt8>, height: Int, width: Int, into destination: UnsafeMutablePointer<Float>,
                      scratch: UnsafeMutablePointer<UInt8>, random: inout SplitMix64) {
        let channels = inputChannels
        var size = Size(height: height, width: width)
        // A size not given at init (a picture to classify) may need larger buffers: the layout then
        // follows `scratchBytes(height:width:)`.
        let buffer = inputSizesVary || height != inputHeight || width != inputWidth ? bufferBytes(for: size) : bufferBytes
        let first = scratch, second = scratch + buffer
        let resizeScratch = scratch + 2 * buffer
        var current = source
        /// Pillow-bilinear resize of every plane of `from` (`input` sized) into `to`.
        func resize(_ from: UnsafePointer<UInt8>, _ input: Size, to output: Size, into to: UnsafeMutablePointer<UInt8>,
                    fixed: PILBilinearResizer?) {
            // The precomputed coefficients serve when this sample has the init's size (a picture to classify may not).
            let matches = fixed.map { $0.inputHeight == input.height && $0.inputWidth == input.width
                && $0.outputHeight == output.height && $0.outputWidth == output.width } ?? false
            let resizer = matches ? fixed! : PILBilinearResizer(inputHeight: input.height, inputWidth: input.width,  // invariant: matches implies fixed
                                                               outputHeight: output.height, outputWidth: output.width)
            for channel in 0..<channels {
                resizer.resize(from + channel * input.plane, into: to + channel * output.plane, scratch: resizeScratch)
            }
        }
        for stage in stages {
            let output = stage.output(for: size)
            // `free` does not hold `current`; `other` may (it is free once `current` has been read).
            let free = current == UnsafePointer(first) ? second : first
            let other = free == first ? second : first
            var result = free
            switch stage {
            case .resize(_, let fixed), .resizeShorter(_, let fixed):
                guard output != size else { continue }  // torchvision returns the picture when the size matches
                resize(current, size, to: output, into: free, fixed: fixed)
            case .centerCrop(let crop):
                guard crop != size else { continue }
                CropGeometry.copy(CropGeometry.centerCrop(height: crop.height, width: crop.width, of: size), from: current,
                                  input: size, channels: channels, into: free)
            case .randomResizedCrop(let spec):
                let box = CropGeometry.randomResizedCrop(of: size, scale: spec.scale, ratio: spec.ratio, random: &random)
                let boxSize = Size(height: box.height, width: box.width)
                if boxSize == size {
                    resize(current, size, to: output, into: free, fixed: nil)
                } else {
                    CropGeometry.copy(box, from: current, input: size, channels: channels, into: free)
                    if boxSize != output {
                        resize(free, boxSize, to: output, into: other, fixed: nil)
                        result = other
                    }
                }
            case .rotate(let degrees):
                let angle = (random.nextUnit() * 2 - 1) * degrees
                Self.rotate(current, into: free, channels: channels, height: size.height, width: size.width, degrees: angle)
            case .crop(let crop, let padding):
                let top = random.index(below: size.height + 2 * padding - crop.height + 1)
                let left = random.index(below: size.width + 2 * padding - crop.width + 1)
                CropGeometry.copy(CropGeometry.Box(top: top - padding, left: left - padding, height: crop.height, width: crop.width),
                                  from: current, input: size, channels: channels, into: free)
            case .flip(let probability):
                guard random.nextUnit() < probability else { continue }
                for channel in 0..<channels {
                    let from = current + channel * size.plane, to = free + channel * size.plane
                    for y in 0..<size.height {
                        for x in 0..<size.width { to[y * size.width + x] = from[y * size.width + size.width - 1 - x] }
                    }
                }
            case .verticalFlip(let probability):
                guard random.nextUnit() < probability else { continue }
                for channel in 0..<channels {
                    let from = current + channel * size.plane, to = free + channel * size.plane
                    for y in 0..<size.height {
                        (to + y * size.width).update(from: from + (size.height - 1 - y) * size.width, count: size.width)
                    }
                }
            case .jitter(let spec):
                let draw = ColorAdjustments.draw(spec, random: &random)
                free.update(from: current, count: channels * size.plane)
                ColorAdjustments.apply(draw, to: free, channels: channels, plane: size.plane)
            }
            current = UnsafePointer(result)
            size = output
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
