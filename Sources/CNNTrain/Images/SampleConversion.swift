import CNNKernels

/// Turns an arbitrary picture into one sample of a dataset's raw shape (channels × height × width, 8-bit,
/// planar), as a user would prepare a photo or drawing for a model trained on that dataset:
/// grey↔RGB conversion (Pillow's `convert("L")` weights), optional inversion for dark-on-light
/// drawings (MNIST digits are light on dark), then either Pillow-bilinear resizing to the dataset's
/// size or, with `center`, MNIST's own preprocessing.
public struct SampleConversion: Sendable {
    public var channels: Int
    public var height: Int
    public var width: Int
    /// Replace every pixel p by 255 − p (after grey conversion).
    public var invert: Bool
    /// MNIST-style: crop to the ink's bounding box, fit it into a 20×20 box (of 28×28; scaled for other
    /// sizes) keeping its aspect ratio, and place it so its centre of mass is the image centre.
    public var center: Bool

    /// Ink is brighter than this (0…255, after inversion) for `center`'s bounding box: ignores faint
    /// paper texture and JPEG noise around a stroke.
    public static let inkThreshold: UInt8 = 40
    /// MNIST fits digits in 20 of 28 pixels.
    public static let centeredFraction = 20.0 / 28.0

    public init(channels: Int, height: Int, width: Int, invert: Bool, center: Bool = false) {
        self.channels = channels; self.height = height; self.width = width; self.invert = invert; self.center = center
    }

    /// Planar `channels` planes of `image` at its own size (converted, inverted when asked).
    public func planes(of image: RasterImage) -> [UInt8] {
        let inputPlane = image.width * image.height
        var planes = [UInt8](repeating: 0, count: channels * inputPlane)
        for index in 0..<inputPlane {
            let base = index * image.channels
            if channels == 1 {
                if image.channels == 1 {
                    planes[index] = image.pixels[base]
                } else {
                    let r = UInt32(image.pixels[base]), g = UInt32(image.pixels[base + 1]), b = UInt32(image.pixels[base + 2])
                    planes[index] = UInt8((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16)
                }
            } else {
                for channel in 0..<channels {
                    planes[channel * inputPlane + index] = image.pixels[base + (image.channels == 1 ? 0 : min(channel, image.channels - 1))]
                }
            }
        }
        if invert { for index in planes.indices { planes[index] = 255 - planes[index] } }
        return planes
    }

    /// Mean brightness (0…255) of `image`'s border strip over its grey/colour planes, before inversion:
    /// high for drawings on white paper, low for MNIST-like light-on-dark images.
    public func borderMean(of image: RasterImage) -> Double {
        var plain = self
        plain.invert = false
        let planes = plain.planes(of: image)
        let plane = image.width * image.height
        var sum = 0.0
        for channel in 0..<channels {
            sum += PredictionInfo.borderMean(of: planes, start: channel * plane, height: image.height, width: image.width)
        }
        return sum / Double(max(1, channels))
    }

    /// Planar `channels × height × width` bytes of `image`.
    public func sample(from image: RasterImage) -> [UInt8] {
        let planes = planes(of: image)
        if center, let centered = centered(planes, height: image.height, width: image.width) { return centered }
        return resize(planes, height: image.height, width: image.width, toHeight: height, toWidth: width)
    }

    /// Pillow-bilinear resize of every plane.
    private func resize(_ planes: [UInt8], height inputHeight: Int, width inputWidth: Int, toHeight: Int, toWidth: Int) -> [UInt8] {
        guard inputWidth != toWidth || inputHeight != toHeight else { return planes }
        let inputPlane = inputHeight * inputWidth
        let resizer = PILBilinearResizer(inputHeight: inputHeight, inputWidth: inputWidth, outputHeight: toHeight, outputWidth: toWidth)
        var scratch = [UInt8](repeating: 0, count: max(1, resizer.scratchCount))
        var out = [UInt8](repeating: 0, count: channels * toHeight * toWidth)
        planes.withUnsafeBufferPointer { source in
            out.withUnsafeMutableBufferPointer { destination in
                scratch.withUnsafeMutableBufferPointer { work in
                    for channel in 0..<channels {
                        // invariant: the buffers are non-empty (sizes checked by the decoders)
                        resizer.resize(source.baseAddress! + channel * inputPlane,
                                       into: destination.baseAddress! + channel * toHeight * toWidth, scratch: work.baseAddress!)
                    }
                }
            }
        }
        return out
    }

    /// MNIST's preprocessing of `planes`; nil when there is no ink (then plain resizing is used).
    private func centered(_ planes: [UInt8], height inputHeight: Int, width inputWidth: Int) -> [UInt8]? {
        let plane = inputHeight * inputWidth
        // Ink = mean over channels above the threshold.
        var ink = [UInt8](repeating: 0, count: plane)
        for index in 0..<plane {
            var sum = 0
            for channel in 0..<channels { sum += Int(planes[channel * plane + index]) }
            ink[index] = UInt8(sum / channels)
        }
        var top = inputHeight, bottom = -1, left = inputWidth, right = -1
        for y in 0..<inputHeight {
            for x in 0..<inputWidth where ink[y * inputWidth + x] > Self.inkThreshold {
                top = min(top, y); bottom = max(bottom, y); left = min(left, x); right = max(right, x)
            }
        }
        guard bottom >= 0 else { return nil }
        let boxHeight = bottom - top + 1, boxWidth = right - left + 1
        var cropped = [UInt8](repeating: 0, count: channels * boxHeight * boxWidth)
        for channel in 0..<channels {
            for y in 0..<boxHeight {
                for x in 0..<boxWidth {
                    cropped[(channel * boxHeight + y) * boxWidth + x] = planes[channel * plane + (top + y) * inputWidth + left + x]
                }
            }
        }
        let fit = Double(min(height, width)) * Self.centeredFraction
        let scale = fit / Double(max(boxHeight, boxWidth))
        let fittedHeight = max(1, Int((Double(boxHeight) * scale).rounded())), fittedWidth = max(1, Int((Double(boxWidth) * scale).rounded()))
        let fitted = resize(cropped, height: boxHeight, width: boxWidth, toHeight: fittedHeight, toWidth: fittedWidth)
        // Centre of mass of the fitted ink (over channels).
        var mass = 0.0, sumY = 0.0, sumX = 0.0
        let fittedPlane = fittedHeight * fittedWidth
        for y in 0..<fittedHeight {
            for x in 0..<fittedWidth {
                var value = 0.0
                for channel in 0..<channels { value += Double(fitted[channel * fittedPlane + y * fittedWidth + x]) }
                mass += value; sumY += value * Double(y); sumX += value * Double(x)
            }
        }
        let centreY = mass > 0 ? sumY / mass : Double(fittedHeight - 1) / 2
        let centreX = mass > 0 ? sumX / mass : Double(fittedWidth - 1) / 2
        let offsetY = Int((Double(height - 1) / 2 - centreY).rounded()), offsetX = Int((Double(width - 1) / 2 - centreX).rounded())
        var out = [UInt8](repeating: 0, count: channels * height * width)
        for channel in 0..<channels {
            for y in 0..<fittedHeight {
                let targetY = y + offsetY
                guard targetY >= 0, targetY < height else { continue }
                for x in 0..<fittedWidth {
                    let targetX = x + offsetX
                    guard targetX >= 0, targetX < width else { continue }
                    out[(channel * height + targetY) * width + targetX] = fitted[channel * fittedPlane + y * fittedWidth + x]
                }
            }
        }
        return out
    }
}
