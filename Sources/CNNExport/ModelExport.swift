import CNNKernels
import CNNLayers
import CNNSpec
import CNNTrain
import Foundation

/// Reference inputs and cnnspec's logits for them, for comparing an export with cnnspec.
public struct ReferenceBatch {
    /// [count, C, H, W] (or [count, F]).
    public var inputs: [Float]
    public var inputShape: [Int]
    /// [count, classes].
    public var logits: [Float]
    public var logitsShape: [Int]
    /// Where the inputs came from, for the log.
    public var origin: String
}

/// A model compiled with its weights, ready to export.
public final class ModelExport {
    /// The seed of pseudo-random reference images (they must not depend on anything else).
    public static let referenceImageSeed: UInt64 = 0x5EED_0FF1_CE
    /// The range pseudo-random reference pixels are drawn from: about a normalised image's.
    public static let referencePixelRange: ClosedRange<Float> = -1...1

    public let source: ModelSource
    public let plan: ExecutionPlan

    /// Builds the graph's plan for `referenceCount` images (at least 1), with the initial weights from the
    /// seed, then loads the checkpoint into it (mismatched tensors are errors naming them).
    public init(source: ModelSource, referenceCount: Int = 0) throws {
        self.source = source
        let threads = source.config?.train.threads ?? 0
        plan = try ExecutionPlan(graph: source.graph, batchCapacity: max(1, referenceCount), backend: .fixed(.im2col),
                                 threads: threads, seed: source.seed, purpose: .inference)
        if let checkpoint = source.checkpoint {
            try CheckpointIO.load(into: plan.parameters, from: checkpoint)
            plan.parametersDidChange()
        }
    }

    /// Every parameter and buffer by state_dict name.
    public var weights: [String: SafetensorsFile.Tensor] { CheckpointIO.tensors(of: plan.parameters) }

    /// Where the weights came from, for the log.
    public var weightsOrigin: String {
        source.checkpoint.map { "checkpoint \($0.path)" } ?? "initial weights from seed \(source.seed) (no checkpoint)"
    }

    /// The serialized ONNX model.
    public func onnx(opset: Int = ONNXExporter.defaultOpset) throws -> Data {
        guard ONNXExporter.supportedOpsets.contains(opset) else {
            throw UserError("opset \(opset) is not supported",
                              hint: "use an opset from \(ONNXExporter.supportedOpsets.lowerBound) to \(ONNXExporter.supportedOpsets.upperBound)")
        }
        let model = try ONNXExporter.model(for: source.graph, weights: weights, opset: opset, producerVersion: CNNSpecVersion.string,
                                           docString: "\(source.graph.name) from \(source.modelFile), \(weightsOrigin)")
        return try ONNXExporter.serialize(model)
    }

    /// The PyTorch module file.
    public func pytorch() throws -> String {
        try PyTorchExporter.source(for: source.graph, source: source.modelFile)
    }

    /// `count` reference images and cnnspec's inference logits for them: the first test images of the
    /// config's dataset through its eval transforms when the source is a config whose data loads and fits
    /// the model, otherwise deterministic pseudo-random images (`referencePixelRange`, `referenceImageSeed`).
    public func reference(count: Int) -> ReferenceBatch {
        let count = min(count, plan.batchCapacity)
        let inputShape = source.graph.inputShape.dimensions
        let perImage = source.graph.inputShape.elementCount
        var origin = ""
        if let config = source.config {
            do {
                let data = try TrainingData.load(config.data, seed: config.train.seed)
                if data.sampleShape != inputShape {
                    origin = "pseudo-random images (\(config.data.dataset.rawValue) samples do not fit the model's input)"
                } else if data.test.count < count {
                    origin = "pseudo-random images (\(config.data.dataset.rawValue) has only \(data.test.count) test images)"
                } else {
                    let loader = data.testLoader(batchSize: count, seed: config.train.seed)
                    let labels = AlignedBuffer<Int32>(count: count)
                    _ = loader.fill(batch: 0, images: plan.input, labels: labels.pointer)
                    origin = "the first \(count) \(config.data.dataset.rawValue) test images (eval transforms of \(config.configPath))"
                }
            } catch {
                origin = "pseudo-random images (\(config.data.dataset.rawValue) not loadable: \(error))"
            }
        } else {
            origin = "pseudo-random images (a \(source.kind.rawValue) has no dataset)"
        }
        if origin.hasPrefix("pseudo-random") {
            var generator = SplitMix64(seed: Self.referenceImageSeed)
            let range = Self.referencePixelRange
            for index in 0..<(count * perImage) {
                plan.input[index] = range.lowerBound + Float(generator.nextUnit()) * (range.upperBound - range.lowerBound)
            }
            origin += ", uniform in \(range.lowerBound)…\(range.upperBound), seed \(Self.referenceImageSeed)"
        }
        plan.forward(batch: count, training: false)
        let classes = plan.classCount
        return ReferenceBatch(inputs: Array(UnsafeBufferPointer(start: plan.input, count: count * perImage)),
                              inputShape: [count] + inputShape,
                              logits: Array(UnsafeBufferPointer(start: plan.logits, count: count * classes)),
                              logitsShape: [count, classes], origin: origin)
    }

    /// The files a reference batch is written to, beside `output` (`model.onnx` → `model.reference-inputs.npy`).
    public static func referenceFiles(beside output: URL) -> (inputs: URL, logits: URL) {
        let stem = output.deletingPathExtension()
        return (URL(fileURLWithPath: stem.path + ".reference-inputs.npy"), URL(fileURLWithPath: stem.path + ".reference-logits.npy"))
    }
}
