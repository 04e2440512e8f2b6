/// An 8-bit image as read from or written to a picture file: `pixels` is row-major and interleaved
/// (`channels` bytes per pixel: 1 grey, 3 RGB).
public struct RasterImage: Sendable, Equatable {
    public var width: Int
    public var height: Int
    public var channels: Int
    public var pixels: [UInt8]

    /// `pixels` must hold `width × height × channels` bytes.
    public init(width: Int, height: Int, channels: Int, pixels: [UInt8]) {
        precondition(pixels.count == width * height * channels)  // invariant: callers build consistent images
        self.width = width; self.height = height; self.channels = channels; self.pixels = pixels
    }

    /// Builds an interleaved image from planar CHW bytes (the datasets' layout).
    public init(planar: UnsafeBufferPointer<UInt8>, channels: Int, height: Int, width: Int) {
        let plane = height * width
        var pixels = [UInt8](repeating: 0, count: plane * channels)
        for channel in 0..<channels {
            for index in 0..<plane { pixels[index * channels + channel] = planar[channel * plane + index] }
        }
        self.init(width: width, height: height, channels: channels, pixels: pixels)
    }

    /// The same picture `factor` times larger, by repeating pixels (nearest neighbour).
    public func upscaled(by factor: Int) -> RasterImage {
        guard factor > 1 else { return self }
        let newWidth = width * factor, newHeight = height * factor
        var out = [UInt8](repeating: 0, count: newWidth * newHeight * channels)
        for y in 0..<newHeight {
            for x in 0..<newWidth {
                let from = ((y / factor) * width + x / factor) * channels
                let to = (y * newWidth + x) * channels
                for channel in 0..<channels { out[to + channel] = pixels[from + channel] }
            }
        }
        return RasterImage(width: newWidth, height: newHeight, channels: channels, pixels: out)
    }
}

/// A picture file that cannot be read, with the file and what is wrong.
public struct ImageError: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var problem: String
    public init(path: String, problem: String) { self.path = path; self.problem = problem }
    public var description: String { "\(path): error: \(problem)" }
}
