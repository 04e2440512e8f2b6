import Testing
@testable import CNNTrain
import CNNSpec
import PyTorchFixtures

/// Runs `steps` on one 8-bit image and returns the floats.
private func run(_ steps: [TransformSpec], _ image: [UInt8], channels: Int = 1, height: Int, width: Int,
                 statistics: ChannelStatistics? = nil, seed: UInt64 = 1) throws -> (TransformPipeline, [Float]) {
    let pipeline = try TransformPipeline(steps: steps, channels: channels, height: height, width: width, statistics: statistics)
    var output = [Float](repeating: .nan, count: pipeline.outputCount)
    var scratch = [UInt8](repeating: 0, count: pipeline.scratchBytes)
    var random = SplitMix64(seed: seed)
    image.withUnsafeBufferPointer { pipeline.apply($0.baseAddress!, into: &output, scratch: &scratch, random: &random) }
    return (pipeline, output)
}

@Test func scaleAndNormalizeFollowToTensorAndNormalize() throws {
    let image: [UInt8] = [0, 51, 255, 128, 10, 20]
    let (_, output) = try run([.scale, .normalize(.fixed(mean: [0.5, 0.25], std: [0.5, 2]))], image, channels: 2,
                              height: 1, width: 3)
    let expected = image.enumerated().map { index, value in
        Float((Double(value) / 255 - (index < 3 ? 0.5 : 0.25)) / (index < 3 ? 0.5 : 2))
    }
    #expect(maxRelativeError(output, expected, floor: 1e-3) < 1e-6)
    let (_, raw) = try run([], image, height: 2, width: 3)
    #expect(raw == image.map(Float.init))
}

@Test func resizeInThePipelineMatchesTorchvision() throws {
    let fixture = try PyTorchFixture.load("resize_pil_uint8_28_to_32")
    let input = try fixture.tensor("input").data.map { UInt8($0) }
    let expected = try fixture.tensor("output").data.map { $0 / 255 }
    let (pipeline, output) = try run([.resize(height: 32, width: 32), .scale], input, height: 28, width: 28)
    #expect([pipeline.outputChannels, pipeline.outputHeight, pipeline.outputWidth] == [1, 32, 32])
    #expect(maxRelativeError(output, expected, floor: 1e-3) < 1e-6)
}

@Test func rotationByNinetyDegreesTurnsCounterClockwise() {
    let image = (0..<12).map(UInt8.init)  // 3×4
    var square = [UInt8](repeating: 0, count: 16)
    let input = (0..<16).map(UInt8.init)  // 4×4
    input.withUnsafeBufferPointer { TransformPipeline.rotate($0.baseAddress!, into: &square, channels: 1, height: 4, width: 4, degrees: 90) }
    var expected = [UInt8](repeating: 0, count: 16)
    for y in 0..<4 { for x in 0..<4 { expected[y * 4 + x] = input[x * 4 + 3 - y] } }
    #expect(square == expected)
    var same = [UInt8](repeating: 0, count: 12)
    image.withUnsafeBufferPointer { TransformPipeline.rotate($0.baseAddress!, into: &same, channels: 1, height: 3, width: 4, degrees: 0) }
    #expect(same == image)
}

@Test func randomRotationStaysWithinTheImageAndFillsZero() throws {
    let image = [UInt8](repeating: 200, count: 28 * 28)
    let (_, output) = try run([.randomRotation(degrees: 45)], image, height: 28, width: 28, seed: 3)
    #expect(output.allSatisfy { $0 == 0 || $0 == 200 })
    #expect(output[0] == 0 || output[27] == 0 || output[27 * 28] == 0)
    #expect(output[14 * 28 + 14] == 200)
}

@Test func randomCropWithPaddingShiftsTheImage() throws {
    let image = (0..<36).map { UInt8($0 + 1) }  // 6×6, no zeros
    for seed in 0..<20 as Range<UInt64> {
        let (_, output) = try run([.randomCrop(height: 6, width: 6, padding: 2)], image, height: 6, width: 6, seed: seed)
        // Find the shift from the first non-zero pixel and check every pixel against it.
        guard let first = output.firstIndex(where: { $0 != 0 }) else { Issue.record("all zero"); continue }
        let value = Int(output[first]) - 1
        let dy = value / 6 - first / 6, dx = value % 6 - first % 6
        #expect(abs(dy) <= 2 && abs(dx) <= 2)
        for y in 0..<6 {
            for x in 0..<6 {
                let sy = y + dy, sx = x + dx
                let expected: Float = (0..<6).contains(sy) && (0..<6).contains(sx) ? Float(image[sy * 6 + sx]) : 0
                #expect(output[y * 6 + x] == expected)
            }
        }
    }
}

@Test func horizontalFlipMirrorsEachChannel() throws {
    let image: [UInt8] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]  // 2 channels × 2×3
    let (_, flipped) = try run([.horizontalFlip(probability: 1)], image, channels: 2, height: 2, width: 3)
    #expect(flipped == [3, 2, 1, 6, 5, 4, 9, 8, 7, 12, 11, 10])
    let (_, kept) = try run([.horizontalFlip(probability: 0)], image, channels: 2, height: 2, width: 3)
    #expect(kept == image.map(Float.init))
}

@Test func autoNormalizationUsesTheUnbiasedStatistics() throws {
    let pixels: [UInt8] = [0, 10, 255, 40, 90, 7, 7, 200]
    let dataset = try Dataset(name: "t", images: pixels, labels: [0, 1], channels: 1, height: 2, width: 2, classNames: ["a", "b"])
    let statistics = ChannelStatistics(of: dataset)
    let values = pixels.map { Double($0) / 255 }
    let mean = values.reduce(0, +) / 8
    let std = (values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 7).squareRoot()
    #expect(abs(statistics.mean[0] - mean) < 1e-12 && abs(statistics.std[0] - std) < 1e-12)
    let (pipeline, output) = try run([.scale, .normalize(.auto)], Array(pixels[0..<4]), height: 2, width: 2, statistics: statistics)
    #expect(pipeline.resolvedSteps == [.scale, .normalize(.fixed(mean: [statistics.mean[0]], std: [statistics.std[0]]))])
    #expect(abs(Double(output[2]) - (1 - mean) / std) < 1e-5)
    #expect(throws: DataError.self) { try TransformPipeline(steps: [.scale, .normalize(.auto)], channels: 1, height: 2, width: 2) }
}

@Test func cropLargerThanThePaddedImageIsRejected() {
    #expect(throws: DataError.self) {
        try TransformPipeline(steps: [.randomCrop(height: 40, width: 40, padding: 2)], channels: 3, height: 32, width: 32)
    }
}
