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
        plan = try source.makeInferencePlan(batchCapacity: max(1, referenceCount), batchKey: "--reference")
    }

    /// Class names, input size, mean/std and eval transforms for the exported files (from the checkpoint's metadata).
    public var metadata: DeploymentMetadata { DeploymentMetadata(graph: source.graph, info: source.predictionInfo) }

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
        var model = try ONNXExporter.model(for: source.graph, weights: weights, opset: opset, producerVersion: CNNSpecVersion.string,
                                           docString: "\(source.graph.name) from \(source.modelFile), \(weightsOrigin)")
        model.metadataProps = metadata.properties.map { property in
            var entry = Onnx_StringStringEntryProto()
            entry.key = property.key.rawValue
            entry.value = property.value
            return entry
        }
        return try ONNXExporter.serialize(model)
    }

    /// The PyTorch module file.
    public func pytorch() throws -> String {
        try PyTorchExporter.source(for: source.graph, source: source.modelFile, metadata: metadata)
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
                // Folder datasets take their picture size from the model's input.
                let data = try TrainingData.load(config.data, seed: config.train.seed, modelInput: inputShape)
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

/// The file formats `cnnspec export` writes.
public enum ExportFormat: String, CaseIterable, Sendable {
    /// An ONNX model (graph + weights) for onnxruntime and other ONNX tools.
    case onnx
    /// A PyTorch module file (`Model`) whose state_dict names match the checkpoint's.
    case pytorch
}

extension ModelExport {
    /// More reference images than this would make the plan's buffers needlessly large for a check.
    public static let maximumReferenceCount = 256

    /// Writes the model in `format` to `output` (temp file + rename) and returns the line to log.
    public func write(_ format: ExportFormat, to output: URL, opset: Int = ONNXExporter.defaultOpset) throws -> String {
        switch format {
        case .onnx:
            let data = try onnx(opset: opset)
            try AtomicFile.write(data, to: output)
            return "wrote \(output.relativePath): ONNX opset \(opset), \(source.graph.name), \(weightsOrigin), "
                + String(format: "%.1f MiB", Double(data.count) / 1_048_576)
        case .pytorch:
            try AtomicFile.write(try pytorch(), to: output)
            return "wrote \(output.relativePath): PyTorch module Model for \(source.graph.name) (weights: \(weightsOrigin))"
        }
    }

    /// Writes the exported weights as safetensors and returns the line to log.
    public func writeWeights(to file: URL) throws -> String {
        try SafetensorsFile.write(tensors: weights, metadata: ["exported_by": "cnnspec export"], to: file)
        return "wrote \(file.relativePath): the exported weights"
    }

    /// Writes `count` reference inputs and their logits as .npy files beside `output` and returns the line to log.
    public func writeReference(count: Int, beside output: URL) throws -> String {
        guard (1...Self.maximumReferenceCount).contains(count) else {
            throw UserError("--reference must be between 1 and \(Self.maximumReferenceCount), got \(count)")
        }
        let batch = reference(count: count)
        let files = Self.referenceFiles(beside: output)
        try NPYFile.write(batch.inputs, shape: batch.inputShape, to: files.inputs)
        try NPYFile.write(batch.logits, shape: batch.logitsShape, to: files.logits)
        return "wrote \(files.inputs.relativePath) and \(files.logits.relativePath): \(batch.origin)"
    }
}
