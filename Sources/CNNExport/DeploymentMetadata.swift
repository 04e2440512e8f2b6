import CNNSpec
import CNNTrain
import Foundation

/// What a deployed model needs besides its weights to classify a picture as `cnnspec predict` does:
/// the class names, the input size, the eval transforms and the mean/std they normalise with. Written
/// into ONNX `metadata_props` (read with onnxruntime's `get_modelmeta().custom_metadata_map`) and as
/// class attributes of the PyTorch module file. Built from the checkpoint's metadata (`PredictionInfo`);
/// a model without a run (a model file, a `.pth`) carries the input shape only.
public struct DeploymentMetadata: Sendable, Equatable {
    public var classNames: [String]?
    /// The model's input, [C, H, W].
    public var inputShape: [Int]
    /// The image size the eval transforms start from, [C, H, W]: pictures are converted to C channels
    /// (Pillow's grey weights) and resized to H×W with Pillow's bilinear filter first.
    public var imageShape: [Int]?
    /// The eval transforms as a config writes them (`normalize: auto` resolved to its values).
    public var evalTransforms: [String]?
    /// Per channel, on the 0…1 scale after `scale`; nil when the eval transforms do not normalise.
    public var mean: [Double]?
    public var std: [Double]?

    /// How pictures are sized before the eval transforms (`PictureSizing`); nil without run metadata.
    public var sizing: PictureSizing?

    /// The metadata keys, each defined once.
    public enum Key: String, CaseIterable, Sendable {
        case classNames = "class_names", inputShape = "input_shape", imageShape = "image_shape",
             evalTransforms = "eval_transforms", mean, std, preprocessing
    }

    public init(graph: ModelGraph, info: PredictionInfo?) {
        inputShape = graph.inputShape.dimensions
        guard let info else { return }
        classNames = info.classNames
        imageShape = info.sampleShape
        sizing = info.sizing
        evalTransforms = info.evalTransforms.map(\.yamlText)
        for step in info.evalTransforms {
            guard case .normalize(.fixed(let mean, let std)) = step else { continue }
            let channels = info.sampleShape[0]
            self.mean = mean.count == 1 ? Array(repeating: mean[0], count: channels) : mean
            self.std = std.count == 1 ? Array(repeating: std[0], count: channels) : std
        }
    }

    /// One line saying how a picture becomes the model's input.
    public var preprocessing: String {
        guard let imageShape, let evalTransforms else {
            return "no run metadata: the input is float32 [N, \(inputShape.map(String.init).joined(separator: ", "))]"
        }
        let resize: String
        switch sizing ?? .model(height: imageShape[1], width: imageShape[2]) {
        case .model(let height, let width): resize = "resize to \(height)×\(width) (PIL bilinear), "
        case .firstStep: resize = ""  // the eval transforms' own first step
        case .own(let side?): resize = "when the shorter side is above \(side), resize it to \(side) (PIL bilinear, torchvision Resize(\(side))), "
        case .own(nil): resize = "keep the picture's own size, "
        }
        return "convert to \(imageShape[0] == 1 ? "grey (L)" : "RGB"), \(resize)"
            + "then the eval transforms in order: \(evalTransforms.joined(separator: "; ")); logits → softmax for probabilities"
    }

    private static func json(_ values: [Double]) -> String { "[" + values.map { "\($0)" }.joined(separator: ", ") + "]" }
    private static func json(_ values: [Int]) -> String { "[" + values.map(String.init).joined(separator: ", ") + "]" }
    private static func json(_ values: [String]) -> String { "[" + values.map(JSONText.quoted).joined(separator: ", ") + "]" }

    /// The entries as ONNX `metadata_props`: JSON values (lists of strings or numbers), in `Key` order.
    public var properties: [(key: Key, value: String)] {
        Key.allCases.compactMap { key -> (key: Key, value: String)? in
            switch key {
            case .classNames: return classNames.map { (key, Self.json($0)) }
            case .inputShape: return (key, Self.json(inputShape))
            case .imageShape: return imageShape.map { (key, Self.json($0)) }
            case .evalTransforms: return evalTransforms.map { (key, Self.json($0)) }
            case .mean: return mean.map { (key, Self.json($0)) }
            case .std: return std.map { (key, Self.json($0)) }
            case .preprocessing: return (key, JSONText.quoted(preprocessing))
            }
        }
    }
}
