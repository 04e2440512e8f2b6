import CNNKernels
import CNNSpec
import Foundation
import Testing
@testable import CNNTrain

/// `cnnspec predict`'s path (picture file → conversion → eval transforms → model) must give exactly the
/// predictions `eval`'s path (dataset → loader → model) gives, so its accuracy is the checkpoint's test accuracy.
@Suite(.serialized) struct PredictAgreementTests {
    @Test func predictionsFromPictureFilesMatchTestSetEvaluation() throws {
        let folder = TrainingTestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let (trainer, data, test, reference, isReal) = try TrainingTestSupport.trainedModelA(folder: folder, train: 2000, test: 300)
        let plan = trainer.plan
        #expect(reference.accuracy > 0.8, "a trained model (accuracy \(reference.accuracy), real MNIST: \(isReal))")

        var pictures: [RasterImage] = []
        var inverted: [RasterImage] = []
        for index in 0..<test.count {
            let pixels = Array(test.images[(index * 784)..<((index + 1) * 784)])
            let grey = RasterImage(width: 28, height: 28, channels: 1, pixels: pixels)
            let url = folder.appendingPathComponent("\(index).\(index % 3 == 2 ? "pgm" : "png")")
            switch index % 3 {
            case 0: try PNGEncoder.encode(grey).write(to: url)
            case 1: try PNGEncoder.encode(RasterImage(width: 28, height: 28, channels: 3, pixels: pixels.flatMap { [$0, $0, $0] })).write(to: url)
            default: try (Data("P5\n28 28\n255\n".utf8) + Data(pixels)).write(to: url)
            }
            pictures.append(try ImageFile.read(path: url.path))
            inverted.append(RasterImage(width: 28, height: 28, channels: 1, pixels: pixels.map { 255 - $0 }))
        }
        let predicted = try ImagePredictor(plan: plan, pipeline: data.evalPipeline, invert: false).predict(pictures)
        let fromInverted = try ImagePredictor(plan: plan, pipeline: data.evalPipeline, invert: true).predict(inverted)
        let labels = predicted.map { Int32($0.ranked[0].index) }
        #expect(labels == reference.predicted)
        #expect(fromInverted.map { Int32($0.ranked[0].index) } == reference.predicted)
        for (prediction, confidence) in zip(predicted, reference.confidence) {
            #expect(abs(prediction.ranked[0].probability - confidence) < 1e-5)
            #expect(abs(prediction.ranked.map(\.probability).reduce(0, +) - 1) < 1e-4)
        }
        let accuracy = Double(zip(labels, test.labels).filter { $0 == $1 }.count) / Double(test.count)
        #expect(accuracy == reference.accuracy)
    }

    @Test func conversionResizesAndConvertsColour() {
        let conversion = SampleConversion(channels: 1, height: 2, width: 2, invert: false)
        let red = RasterImage(width: 4, height: 4, channels: 3, pixels: [UInt8](repeating: 0, count: 48).enumerated().map { $0.offset % 3 == 0 ? 255 : 0 })
        #expect(conversion.sample(from: red) == [76, 76, 76, 76], "Pillow's L = 0.299 R")
        let rgb = SampleConversion(channels: 3, height: 1, width: 1, invert: true)
        #expect(rgb.sample(from: RasterImage(width: 1, height: 1, channels: 1, pixels: [200])) == [55, 55, 55])
    }
}
