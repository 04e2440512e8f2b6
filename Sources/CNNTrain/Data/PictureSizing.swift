import CNNKernels
import CNNSpec

/// The size at which a folder dataset stores its pictures (and `predict` prepares a picture before
/// the eval transforms), decided by the transform lists:
///
/// - no list resizes or crops (`resize`, `center_crop`, `random_resized_crop`): every picture is
///   resized to the model's input (PIL bilinear, torchvision `Resize((h, w))`), as before these steps
///   existed;
/// - both lists start with the same `resize`: it is applied once while decoding (the lists' own first
///   step then finds the size already right and does nothing: the same pixels, stored compactly);
/// - otherwise pictures keep their own size, or with `data.cache_size: S` a shorter side of S when
///   larger (PIL bilinear, as `resize: S`), and the lists do all the resizing and cropping per sample.
public enum PictureSizing: Equatable, Sendable {
    case model(height: Int, width: Int)
    case firstStep(TransformSpec)
    case own(cacheSide: Int?)

    /// The sizing of a dataset of `data`'s kind whose model takes `height`×`width` inputs.
    public init(data: DataConfig, height: Int, width: Int) {
        let lists = [data.trainTransforms, data.evalTransforms]
        guard data.dataset == .folder, lists.joined().contains(where: \.setsSize) else {
            self = .model(height: height, width: width)
            return
        }
        if let first = data.trainTransforms.first, first == data.evalTransforms.first {
            switch first {
            case .resize, .resizeShorter:
                self = .firstStep(first)
                return
            case .scale, .normalize, .centerCrop, .randomResizedCrop, .randomRotation, .randomCrop, .horizontalFlip,
                 .verticalFlip, .colorJitter:
                break
            }
        }
        self = .own(cacheSide: data.cacheSize)
    }

    /// True when samples keep (some function of) their own size, so datasets have a `layout`.
    public var varies: Bool {
        switch self {
        case .model: return false
        case .firstStep(let step):
            if case .resize = step { return false }
            return true
        case .own: return true
        }
    }

    /// The size a picture of `size` is stored at.
    public func storedSize(of size: CropGeometry.Size) -> CropGeometry.Size {
        switch self {
        case .model(let height, let width): return CropGeometry.Size(height: height, width: width)
        case .firstStep(.resize(let height, let width)): return CropGeometry.Size(height: height, width: width)
        case .firstStep(.resizeShorter(let side)): return CropGeometry.shorterSide(side, of: size)
        case .firstStep: return size  // invariant: init makes firstStep only of the two resizes
        case .own(let side?) where min(size.height, size.width) > side: return CropGeometry.shorterSide(side, of: size)
        case .own: return size
        }
    }

    /// `planes` (`channels` planes of `size`) at their stored size: PIL bilinear, exactly as torchvision's
    /// `Resize` on the PIL image.
    public func stored(_ planes: [UInt8], channels: Int, size: CropGeometry.Size) -> (pixels: [UInt8], size: CropGeometry.Size) {
        let target = storedSize(of: size)
        guard target != size else { return (planes, size) }
        let resizer = PILBilinearResizer(inputHeight: size.height, inputWidth: size.width,
                                         outputHeight: target.height, outputWidth: target.width)
        var scratch = [UInt8](repeating: 0, count: max(1, resizer.scratchCount))
        var out = [UInt8](repeating: 0, count: channels * target.plane)
        planes.withUnsafeBufferPointer { source in
            out.withUnsafeMutableBufferPointer { destination in
                scratch.withUnsafeMutableBufferPointer { work in
                    for channel in 0..<channels {
                        // invariant: the buffers are non-empty (decoders refuse empty pictures)
                        resizer.resize(source.baseAddress! + channel * size.plane,
                                       into: destination.baseAddress! + channel * target.plane, scratch: work.baseAddress!)
                    }
                }
            }
        }
        return (out, target)
    }
}
