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

    /// `pipeline` is the eval pipeline (its input shape is the dataset's raw sample shape).
    public init(plan: ExecutionPlan, pipeline: TransformPipeline, invert: Bool, center: Bool = false) {
        self.plan = plan; self.pipeline = pipeline
        conversion = SampleConversion(channels: pipeline.inputChannels, height: pipeline.inputHeight,
                                      width: pipeline.inputWidth, invert: invert, center: center)
    }

    /// Class probabilities for each image, in batches of the plan's capacity.
    public func predict(_ images: [RasterImage]) -> [Prediction] {
        predict(images.map { conversion.sample(from: $0) })
    }

    /// Class probabilities for raw samples already in the dataset's shape (`conversion.sample(from:)`).
    public func predict(_ samples: [[UInt8]]) -> [Prediction] {
        let classes = plan.classCount
        let probabilities = AlignedBuffer<Float>(count: plan.batchCapacity * classes)
        var scratch = [UInt8](repeating: 0, count: max(1, pipeline.scratchBytes))
        var random = SplitMix64(seed: 0)
        var results: [Prediction] = []
        var start = 0
        while start < samples.count {
            let count = min(plan.batchCapacity, samples.count - start)
            for offset in 0..<count {
                samples[start + offset].withUnsafeBufferPointer { pixels in
                    scratch.withUnsafeMutableBufferPointer { work in
                        // invariant: samples and scratch are non-empty
                        pipeline.apply(pixels.baseAddress!, into: plan.input + offset * pipeline.outputCount,
                                       scratch: work.baseAddress!, random: &random)
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
