import Foundation
import Testing
@testable import CNNTrain
import CNNSpec
import PyTorchFixtures

/// The photo preprocessing steps against torchvision on PIL images (Tests/Fixtures/pytorch/transform_*.json,
/// made by scripts/fixtures/make_transform_fixtures.py): deterministic steps exactly, random ones by
/// seed reproducibility and by the distribution of their parameters.
private struct Picture {
    var pixels: [UInt8]
    var channels: Int
    var height: Int
    var width: Int
}

private func picture(_ fixture: PyTorchFixture, _ key: String) throws -> Picture {
    let tensor = try fixture.tensor(key)
    #expect(tensor.shape.count == 3)
    return Picture(pixels: tensor.data.map { UInt8($0) }, channels: tensor.shape[0], height: tensor.shape[1], width: tensor.shape[2])
}

/// Runs `steps` (8-bit steps only, no scale) on `input` and returns the 8-bit result and its size.
private func transform(_ steps: [TransformSpec], _ input: Picture, seed: UInt64 = 1) throws -> Picture {
    let pipeline = try TransformPipeline(steps: steps, channels: input.channels,
                                         inputSizes: [CropGeometry.Size(height: input.height, width: input.width)])
    var output = [Float](repeating: .nan, count: pipeline.outputCount)
    var scratch = [UInt8](repeating: 0, count: max(1, pipeline.scratchBytes))
    var random = SplitMix64(seed: seed)
    input.pixels.withUnsafeBufferPointer {
        pipeline.apply($0.baseAddress!, height: input.height, width: input.width, into: &output, scratch: &scratch, random: &random)
    }
    return Picture(pixels: output.map { UInt8($0) }, channels: pipeline.outputChannels, height: pipeline.outputHeight,
                   width: pipeline.outputWidth)
}

private func expectSame(_ actual: Picture, _ expected: Picture, _ name: String) {
    let actualShape: [Int] = [actual.channels, actual.height, actual.width]
    let expectedShape: [Int] = [expected.channels, expected.height, expected.width]
    #expect(actualShape == expectedShape, "\(name) shape")
    let mismatches = zip(actual.pixels, expected.pixels).filter { $0 != $1 }.count
    #expect(actual.pixels.count == expected.pixels.count && mismatches == 0, "\(name): \(mismatches) pixels differ")
}

@Test(arguments: PyTorchFixture.names(withPrefix: "transform_resize_short_"))
func resizeOfTheShorterSideMatchesTorchvision(name: String) throws {
    let fixture = try PyTorchFixture.load(name)
    let size = try #require(fixture.config["size"] as? Int)
    expectSame(try transform([.resizeShorter(size: size)], picture(fixture, "input")), try picture(fixture, "output"), name)
}

@Test(arguments: PyTorchFixture.names(withPrefix: "transform_center_crop_"))
func centerCropMatchesTorchvisionWithPadding(name: String) throws {
    let fixture = try PyTorchFixture.load(name)
    let size = fixture.pair("size")
    expectSame(try transform([.centerCrop(height: size[0], width: size[1])], picture(fixture, "input")),
               try picture(fixture, "output"), name)
}

@Test func resizeThenCenterCropIsTheImageNetEvalRecipe() throws {
    let fixture = try PyTorchFixture.load("transform_resize_center_crop_rgb_45x60")
    expectSame(try transform([.resizeShorter(size: 32), .centerCrop(height: 28, width: 28)], picture(fixture, "input")),
               try picture(fixture, "output"), fixture.name)
}

@Test func resizedCropOfABoxMatchesTorchvision() throws {
    let fixture = try PyTorchFixture.load("transform_resized_crop_rgb_40x50")
    let input = try picture(fixture, "input")
    let top = try #require(fixture.config["top"] as? Int), left = try #require(fixture.config["left"] as? Int)
    let height = try #require(fixture.config["height"] as? Int), width = try #require(fixture.config["width"] as? Int)
    let size = fixture.pair("size")
    var box = [UInt8](repeating: 0, count: input.channels * height * width)
    input.pixels.withUnsafeBufferPointer { source in
        CropGeometry.copy(CropGeometry.Box(top: top, left: left, height: height, width: width), from: source.baseAddress!,
                          input: CropGeometry.Size(height: input.height, width: input.width), channels: input.channels, into: &box)
    }
    let cropped = Picture(pixels: box, channels: input.channels, height: height, width: width)
    expectSame(try transform([.resize(height: size[0], width: size[1])], cropped), try picture(fixture, "output"), fixture.name)
}

@Test(arguments: PyTorchFixture.names(withPrefix: "transform_rrc_fallback_"))
func randomResizedCropFallsBackAsTorchvisionAfterTenTries(name: String) throws {
    let fixture = try PyTorchFixture.load(name)
    let input = try picture(fixture, "input")
    let ratio = try #require(fixture.config["ratio"] as? [Double])
    let box = try #require(fixture.config["box"] as? [Int])
    let expected = CropGeometry.Box(top: box[0], left: box[1], height: box[2], width: box[3])
    let size = CropGeometry.Size(height: input.height, width: input.width)
    #expect(CropGeometry.randomResizedCropFallback(of: size, ratio: ratio[0]...ratio[1]) == expected)
    // An area twice the picture's never fits: all 10 tries fail, whatever the seed.
    for seed in 0..<5 as Range<UInt64> {
        var random = SplitMix64(seed: seed)
        #expect(CropGeometry.randomResizedCrop(of: size, scale: 2...2, ratio: ratio[0]...ratio[1], random: &random) == expected)
    }
    var copied = [UInt8](repeating: 0, count: input.channels * expected.height * expected.width)
    input.pixels.withUnsafeBufferPointer {
        CropGeometry.copy(expected, from: $0.baseAddress!, input: size, channels: input.channels, into: &copied)
    }
    #expect(copied == (try picture(fixture, "output")).pixels)
}

@Test(arguments: PyTorchFixture.names(withPrefix: "transform_brightness_") + PyTorchFixture.names(withPrefix: "transform_contrast_")
      + PyTorchFixture.names(withPrefix: "transform_saturation_") + PyTorchFixture.names(withPrefix: "transform_hue_"))
func colorAdjustmentsMatchTorchvisionOnPIL(name: String) throws {
    let fixture = try PyTorchFixture.load(name)
    var input = try picture(fixture, "input")
    let factor = try #require((fixture.config["factor"] as? NSNumber)?.doubleValue)
    let operation = try #require(fixture.config["operation"] as? String)
    let plane = input.height * input.width
    input.pixels.withUnsafeMutableBufferPointer { pixels in
        let base = pixels.baseAddress!
        switch operation {
        case "brightness": ColorAdjustments.brightness(base, channels: input.channels, plane: plane, factor: factor)
        case "contrast": ColorAdjustments.contrast(base, channels: input.channels, plane: plane, factor: factor)
        case "saturation": ColorAdjustments.saturation(base, channels: input.channels, plane: plane, factor: factor)
        case "hue": ColorAdjustments.hue(base, channels: input.channels, plane: plane, factor: factor)
        default: Issue.record("unknown operation \(operation)")
        }
    }
    expectSame(input, try picture(fixture, "output"), name)
}

@Test func verticalFlipAndImageNetNormalizeMatchTorchvision() throws {
    let flip = try PyTorchFixture.load("transform_vflip_rgb_7x9")
    expectSame(try transform([.verticalFlip(probability: 1)], picture(flip, "input")), try picture(flip, "output"), flip.name)
    let normalize = try PyTorchFixture.load("transform_normalize_imagenet_rgb_6x5")
    let input = try picture(normalize, "input")
    let pipeline = try TransformPipeline(steps: [.scale, .normalize(.imagenet)], channels: 3, height: input.height, width: input.width)
    var output = [Float](repeating: .nan, count: pipeline.outputCount)
    var scratch = [UInt8](repeating: 0, count: max(1, pipeline.scratchBytes))
    var random = SplitMix64(seed: 0)
    input.pixels.withUnsafeBufferPointer { pipeline.apply($0.baseAddress!, into: &output, scratch: &scratch, random: &random) }
    #expect(maxRelativeError(output, try normalize.tensor("output").data, floor: 1e-3) < 1e-5)
}

// MARK: random steps

private func gradient(height: Int, width: Int, channels: Int = 3) -> Picture {
    var pixels: [UInt8] = []
    for channel in 0..<channels {
        for y in 0..<height { for x in 0..<width { pixels.append(UInt8((x * 7 + y * 3 + channel * 50) % 256)) } }
    }
    return Picture(pixels: pixels, channels: channels, height: height, width: width)
}

@Test func randomStepsAreReproducibleFromTheirSeedAndVaryAcrossSeeds() throws {
    let input = gradient(height: 30, width: 40)
    let steps: [TransformSpec] = [.randomResizedCrop(RandomResizedCropSpec(height: 16, width: 16)), .horizontalFlip(probability: 0.5),
                                  .verticalFlip(probability: 0.5),
                                  .colorJitter(ColorJitterSpec(brightness: 0.6...1.4, contrast: 0.6...1.4, saturation: 0.6...1.4, hue: -0.1...0.1))]
    let first = try transform(steps, input, seed: 7), again = try transform(steps, input, seed: 7)
    #expect(first.pixels == again.pixels)
    let others = try (8..<12).map { try transform(steps, input, seed: UInt64($0)).pixels }
    #expect(others.allSatisfy { $0 != first.pixels })
}

@Test func randomResizedCropDrawsAreasAndRatiosAsTorchvision() throws {
    // torchvision's own get_params on a 300×300 picture, 20,000 draws: mean area, quartiles, mean log
    // ratio, share of each third of the log-ratio range (retries make these differ from plain uniforms).
    let reference = try PyTorchFixture.load("transform_rrc_distribution").tensor("stats").data.map(Double.init)
    let size = CropGeometry.Size(height: 300, width: 300)
    let scale = 0.08...1.0, ratio = (3.0 / 4)...(4.0 / 3)
    var random = SplitMix64(seed: 11)
    var areas: [Double] = [], logRatios: [Double] = []
    let draws = 20000
    for _ in 0..<draws {
        let box = CropGeometry.randomResizedCrop(of: size, scale: scale, ratio: ratio, random: &random)
        #expect(box.top >= 0 && box.left >= 0 && box.top + box.height <= size.height && box.left + box.width <= size.width)
        areas.append(Double(box.height * box.width) / Double(size.plane))
        logRatios.append(log(Double(box.width) / Double(box.height)))
    }
    areas.sort()
    let low = log(0.75), high = log(4.0 / 3)
    let thirds = (0..<3).map { third -> Double in
        let lower = low + Double(third) * (high - low) / 3, upper = lower + (high - low) / 3
        return Double(logRatios.filter { $0 >= lower && $0 < upper }.count) / Double(draws)
    }
    let measured = [areas.reduce(0, +) / Double(draws), areas[draws / 4], areas[draws / 2], areas[3 * draws / 4],
                    logRatios.reduce(0, +) / Double(draws)] + thirds
    // Two samples of 20,000: the standard errors are about 0.002 (areas) and 0.001 (log ratio), 0.0035 (shares).
    let tolerances = [0.01, 0.015, 0.015, 0.015, 0.006, 0.02, 0.02, 0.02]
    for (index, (mine, theirs)) in zip(measured, reference).enumerated() {
        #expect(abs(mine - theirs) < tolerances[index], "statistic \(index): \(mine) vs torchvision \(theirs)")
    }
    #expect(areas.first! > 0.07 && areas.last! <= 1)
}

@Test func colorJitterDrawsEveryOrderAndUniformFactors() {
    let spec = ColorJitterSpec(brightness: 0.6...1.4, contrast: 0.5...1.5, saturation: nil, hue: -0.2...0.2)
    var random = SplitMix64(seed: 3)
    var orders: [SIMD4<Int32>: Int] = [:]
    var sums = SIMD4<Double>(repeating: 0)
    let draws = 4800
    for _ in 0..<draws {
        let draw = ColorAdjustments.draw(spec, random: &random)
        orders[draw.order, default: 0] += 1
        #expect(draw.factors[2].isNaN, "saturation is off")
        #expect((0.6...1.4).contains(draw.factors[0]) && (0.5...1.5).contains(draw.factors[1]) && (-0.2...0.2).contains(draw.factors[3]))
        sums += SIMD4(draw.factors[0], draw.factors[1], 0, draw.factors[3])
    }
    // torch.randperm(4): all 24 orders, each about 200 times.
    #expect(orders.count == 24)
    #expect(orders.values.allSatisfy { $0 > 140 && $0 < 260 }, "\(orders.values.sorted())")
    let means = sums / Double(draws)
    #expect(abs(means[0] - 1) < 0.02 && abs(means[1] - 1) < 0.02 && abs(means[3]) < 0.01, "\(means)")
}

@Test func flipsHappenWithTheirProbability() throws {
    let input = gradient(height: 4, width: 5, channels: 1)
    var flipped = 0
    let trials = 2000
    for seed in 0..<trials {
        let out = try transform([.verticalFlip(probability: 0.3)], input, seed: UInt64(seed))
        if out.pixels != input.pixels { flipped += 1 }
    }
    #expect(abs(Double(flipped) / Double(trials) - 0.3) < 0.04, "\(flipped) of \(trials)")
}

@Test func picturesOfVaryingSizeNeedAStepThatFixesTheSize() throws {
    let sizes = [CropGeometry.Size(height: 30, width: 40), CropGeometry.Size(height: 50, width: 20)]
    #expect(throws: DataError.self) { try TransformPipeline(steps: [.resizeShorter(size: 16), .scale], channels: 3, inputSizes: sizes) }
    let pipeline = try TransformPipeline(steps: [.resizeShorter(size: 16), .centerCrop(height: 16, width: 16), .scale], channels: 3,
                                         inputSizes: sizes)
    #expect(pipeline.outputHeight == 16 && pipeline.outputWidth == 16 && pipeline.inputSizesVary)
    // A picture of a size not seen at init (predict) gets its own scratch size and the same output shape.
    #expect(try pipeline.scratchBytes(height: 300, width: 200) >= 2 * 3 * 200 * 300)
    let large = gradient(height: 300, width: 200)
    var output = [Float](repeating: .nan, count: pipeline.outputCount)
    var scratch = [UInt8](repeating: 0, count: try pipeline.scratchBytes(height: 300, width: 200))
    var random = SplitMix64(seed: 0)
    large.pixels.withUnsafeBufferPointer {
        pipeline.apply($0.baseAddress!, height: 300, width: 200, into: &output, scratch: &scratch, random: &random)
    }
    #expect(output.allSatisfy { $0.isFinite && $0 >= 0 && $0 <= 1 })
    let single = try TransformPipeline(steps: [.resizeShorter(size: 16), .centerCrop(height: 16, width: 16)], channels: 3,
                                       inputSizes: [CropGeometry.Size(height: 300, width: 200)])
    var alone = [Float](repeating: .nan, count: single.outputCount)
    var aloneScratch = [UInt8](repeating: 0, count: single.scratchBytes)
    large.pixels.withUnsafeBufferPointer { single.apply($0.baseAddress!, into: &alone, scratch: &aloneScratch, random: &random) }
    #expect(alone.map { UInt8($0) } == output.map { UInt8(($0 * 255).rounded()) })
    // A pipeline compiled for small training pictures takes a larger picture with the scratch it asks for.
    let small = try TransformPipeline(steps: [.resizeShorter(size: 16), .centerCrop(height: 16, width: 16)], channels: 3,
                                      height: 12, width: 12)
    var fromSmall = [Float](repeating: .nan, count: small.outputCount)
    let needed = try small.scratchBytes(height: 300, width: 200)
    #expect(needed > small.scratchBytes)
    // Guard bytes after the scratch must stay untouched.
    var guarded = [UInt8](repeating: 0xA5, count: needed + 64)
    large.pixels.withUnsafeBufferPointer { small.apply($0.baseAddress!, height: 300, width: 200, into: &fromSmall, scratch: &guarded, random: &random) }
    #expect(guarded[needed...].allSatisfy { $0 == 0xA5 })
    #expect(fromSmall == alone)
}
