import CNNKernels
import CNNSpec
import Foundation

/// Classifies picture files with a trained plan: each image is converted to the dataset's raw sample
/// shape (`SampleConversion`), then the config's eval transforms run, then the model.
public struct ImagePredictor {
    public struct Prediction: Sendable {
        /// (class index, probability), most probable first.
        public var ranked: [(index: Int, probability: Float)]
    }

    public let plan: ExecutionPlan
    public let pipeline: TransformPipeline
    public let conversion: SampleConversion
    /// The size pictures are brought to before the eval transforms, as the training set's were stored.
    public let sizing: PictureSizing

    /// A picture converted to the training set's channels and stored size, ready for the eval transforms.
    public struct Sample: Sendable {
        public var pixels: [UInt8]
        public var size: CropGeometry.Size
    }

    /// `pipeline` is the eval pipeline (its input shape is the dataset's raw sample shape); `sizing` is
    /// how the training pictures were stored (nil: resized to the pipeline's input, as fixed-size datasets).
    public init(plan: ExecutionPlan, pipeline: TransformPipeline, invert: Bool, center: Bool = false, sizing: PictureSizing? = nil) {
        self.plan = plan; self.pipeline = pipeline
        self.sizing = sizing ?? .model(height: pipeline.inputHeight, width: pipeline.inputWidth)
        conversion = SampleConversion(channels: pipeline.inputChannels, height: pipeline.inputHeight,
                                      width: pipeline.inputWidth, invert: invert, center: center)
    }

    /// `image` as the training pictures were prepared: converted by `conversion` (this predictor's, or one
    /// with another `invert`), then at the stored size. Pictures of their own size skip `center`.
    public func sample(from image: RasterImage, conversion: SampleConversion? = nil) -> Sample {
        let conversion = conversion ?? self.conversion
        guard sizing.varies else {
            let stored = sizing.storedSize(of: CropGeometry.Size(height: image.height, width: image.width))
            var sized = conversion
            sized.height = stored.height; sized.width = stored.width
            return Sample(pixels: sized.sample(from: image), size: stored)
        }
        let stored = sizing.stored(conversion.planes(of: image), channels: conversion.channels,
                                   size: CropGeometry.Size(height: image.height, width: image.width))
        return Sample(pixels: stored.pixels, size: stored.size)
    }

    /// Class probabilities for each image, in batches of the plan's capacity.
    public func predict(_ images: [RasterImage]) throws(DataError) -> [Prediction] {
        try predict(images.map { sample(from: $0) })
    }

    /// Class probabilities for samples at the stored size (`sample(from:)`); a `DataError` when the eval
    /// transforms cannot bring one to the model's input.
    public func predict(_ samples: [Sample]) throws(DataError) -> [Prediction] {
        let classes = plan.classCount
        let probabilities = AlignedBuffer<Float>(count: plan.batchCapacity * classes)
        var scratch: [UInt8] = []
        var random = SplitMix64(seed: 0)
        var results: [Prediction] = []
        var start = 0
        while start < samples.count {
            let count = min(plan.batchCapacity, samples.count - start)
            for offset in 0..<count {
                let sample = samples[start + offset]
                let needed = try pipeline.scratchBytes(height: sample.size.height, width: sample.size.width)
                if scratch.count < max(1, needed) { scratch = [UInt8](repeating: 0, count: max(1, needed)) }
                sample.pixels.withUnsafeBufferPointer { pixels in
                    scratch.withUnsafeMutableBufferPointer { work in
                        // invariant: samples and scratch are non-empty
                        pipeline.apply(pixels.baseAddress!, height: sample.size.height, width: sample.size.width,
                                       into: plan.input + offset * pipeline.outputCount, scratch: work.baseAddress!, random: &random)
                    }
                }
            }
            plan.forward(batch: count, training: false)
            SoftmaxCrossEntropy.softmax(batch: count, classes: classes, logits: plan.logits, probabilities: probabilities.pointer)
            for offset in 0..<count {
                let row = probabilities.pointer + offset * classes
                let ranked = (0..<classes).map { (index: $0, probability: row[$0]) }.sorted { $0.probability > $1.probability }
                results.append(Prediction(ranked: ranked))
            }
            start += count
        }
        return results
    }
}
