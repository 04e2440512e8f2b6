import CNNKernels

/// Turns an arbitrary picture into one sample of a dataset's raw shape (channels × height × width, 8-bit,
/// planar), as a user would prepare a photo or drawing for a model trained on that dataset:
/// grey↔RGB conversion (Pillow's `convert("L")` weights), optional inversion for dark-on-light
/// drawings (MNIST digits are light on dark), and Pillow-bilinear resizing to the dataset's size.
public struct SampleConversion: Sendable {
    public var channels: Int
    public var height: Int
    public var width: Int
    /// Replace every pixel p by 255 − p (after grey conversion).
    public var invert: Bool

    public init(channels: Int, height: Int, width: Int, invert: Bool) {
        self.channels = channels; self.height = height; self.width = width; self.invert = invert
    }

    /// Planar `channels × height × width` bytes of `image`.
    public func sample(from image: RasterImage) -> [UInt8] {
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
        guard image.width != width || image.height != height else { return planes }
        let resizer = PILBilinearResizer(inputHeight: image.height, inputWidth: image.width, outputHeight: height, outputWidth: width)
        var scratch = [UInt8](repeating: 0, count: resizer.scratchCount)
        var out = [UInt8](repeating: 0, count: channels * height * width)
        planes.withUnsafeBufferPointer { source in
            out.withUnsafeMutableBufferPointer { destination in
                scratch.withUnsafeMutableBufferPointer { work in
                    for channel in 0..<channels {
                        // invariant: the buffers are non-empty (sizes checked by the decoders)
                        resizer.resize(source.baseAddress! + channel * inputPlane,
                                       into: destination.baseAddress! + channel * height * width, scratch: work.baseAddress!)
                    }
                }
            }
        }
        return out
    }
}
