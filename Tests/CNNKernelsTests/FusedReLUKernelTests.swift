import Testing
import CNNKernels

/// Batch norm and the residual add with a ReLU fused in (`BatchNorm2D` with `relu`/`reluOutput`,
/// `ResidualAdd`) give bit for bit what the separate ReLU pass gives; batch norm's channel blocks (small
/// planes walked image by image) give bit for bit what one channel at a time gives.
@Suite struct FusedReLUKernelTests {
    static func values(_ count: Int, seed: UInt32) -> [Float] {
        var state = seed
        return (0..<count).map { _ in
            state = state &* 1_664_525 &+ 1_013_904_223
            // Some exact zeros, so the mask's "gradient 0 at exactly 0" is exercised.
            return state % 11 == 0 ? 0 : Float(state >> 8) / Float(1 << 23) - 1
        }
    }

    struct BatchNormResult: Equatable {
        var output: [Float], gradInput: [Float], gradWeight: [Float], gradBias: [Float], runningVar: [Float]
    }

    /// Forward then backward; `fused` runs the ReLU inside, else as separate passes (forward, then dy masked).
    static func batchNorm(batch: Int, channels: Int, spatial: Int, fused: Bool, threads: Int) -> BatchNormResult {
        let pool = ThreadPool(threadCount: threads)
        let count = batch * channels * spatial
        let x = OpsBuffer(values(count, seed: 1)), dy = OpsBuffer(values(count, seed: 2))
        let weight = OpsBuffer(values(channels, seed: 3).map { 1 + $0 }), bias = OpsBuffer(values(channels, seed: 4))
        let runningMean = OpsBuffer(repeating: Float(0), count: channels), runningVar = OpsBuffer(repeating: Float(1), count: channels)
        let saveMean = OpsBuffer(repeating: Float.nan, count: channels), saveInvStd = OpsBuffer(repeating: Float.nan, count: channels)
        let y = OpsBuffer(repeating: Float.nan, count: count), dx = OpsBuffer(repeating: Float.nan, count: count)
        let dw = OpsBuffer(repeating: Float.nan, count: channels), db = OpsBuffer(repeating: Float.nan, count: channels)
        BatchNorm2D.forwardTraining(batch: batch, channels: channels, spatial: spatial, eps: 1e-5, momentum: 0.1,
                                    input: x.readOnly, weight: weight.readOnly, bias: bias.readOnly, runningMean: runningMean.pointer,
                                    runningVar: runningVar.pointer, saveMean: saveMean.pointer, saveInvStd: saveInvStd.pointer,
                                    output: y.pointer, relu: fused, pool: pool)
        if !fused {
            Activation.forward(.relu, count: count, input: y.readOnly, output: y.pointer, pool: pool)
            Activation.backward(.relu, count: count, input: y.readOnly, output: y.readOnly, gradOutput: dy.readOnly,
                                gradInput: dy.pointer, pool: pool)
        }
        BatchNorm2D.backward(batch: batch, channels: channels, spatial: spatial, input: x.readOnly, gradOutput: dy.readOnly,
                             weight: weight.readOnly, saveMean: saveMean.readOnly, saveInvStd: saveInvStd.readOnly,
                             gradInput: dx.pointer, gradWeight: dw.pointer, gradBias: db.pointer,
                             reluOutput: fused ? y.readOnly : nil, pool: pool)
        return BatchNormResult(output: y.array, gradInput: dx.array, gradWeight: dw.array, gradBias: db.array,
                               runningVar: runningVar.array)
    }

    /// Planes of 1, 16 (many channels per block, a partial last block), 49 (vector tails) and 1024 elements.
    @Test(arguments: [(3, 200, 1), (4, 130, 16), (2, 5, 49), (2, 3, 1024)])
    func batchNormWithReLUMatchesSeparatePasses(shape: (Int, Int, Int)) {
        let (batch, channels, spatial) = shape
        for threads in [1, 2] {
            let fused = Self.batchNorm(batch: batch, channels: channels, spatial: spatial, fused: true, threads: threads)
            let separate = Self.batchNorm(batch: batch, channels: channels, spatial: spatial, fused: false, threads: threads)
            #expect(fused == separate, "\(shape), \(threads) threads")
            #expect(fused.output.allSatisfy { $0 >= 0 })
        }
    }

    /// Channels normalised in blocks (130 channels of 4×4 planes: blocks of 64, a partial one) match each
    /// channel normalised alone as a one-channel tensor, bit for bit.
    @Test(arguments: [1, 2])
    func batchNormBlocksMatchOneChannelAtATime(threads: Int) {
        let (batch, channels, spatial) = (4, 130, 16)
        let whole = Self.batchNorm(batch: batch, channels: channels, spatial: spatial, fused: true, threads: threads)
        let count = batch * channels * spatial
        let x = Self.values(count, seed: 1), dy = Self.values(count, seed: 2)
        let weights = Self.values(channels, seed: 3).map { 1 + $0 }, biases = Self.values(channels, seed: 4)
        let pool = ThreadPool(threadCount: threads)
        for channel in [0, 63, 64, 129] {
            let planes = (0..<batch).flatMap { image in (0..<spatial).map { (image * channels + channel) * spatial + $0 } }
            let xc = OpsBuffer(planes.map { x[$0] }), dyc = OpsBuffer(planes.map { dy[$0] })
            let w = OpsBuffer([weights[channel]]), b = OpsBuffer([biases[channel]])
            let mean = OpsBuffer([Float(0)]), variance = OpsBuffer([Float(1)]), saveMean = OpsBuffer([Float.nan]), saveInvStd = OpsBuffer([Float.nan])
            let y = OpsBuffer(repeating: Float.nan, count: planes.count), dx = OpsBuffer(repeating: Float.nan, count: planes.count)
            let dw = OpsBuffer([Float.nan]), db = OpsBuffer([Float.nan])
            BatchNorm2D.forwardTraining(batch: batch, channels: 1, spatial: spatial, eps: 1e-5, momentum: 0.1, input: xc.readOnly,
                                        weight: w.readOnly, bias: b.readOnly, runningMean: mean.pointer, runningVar: variance.pointer,
                                        saveMean: saveMean.pointer, saveInvStd: saveInvStd.pointer, output: y.pointer, relu: true, pool: pool)
            BatchNorm2D.backward(batch: batch, channels: 1, spatial: spatial, input: xc.readOnly, gradOutput: dyc.readOnly,
                                 weight: w.readOnly, saveMean: saveMean.readOnly, saveInvStd: saveInvStd.readOnly, gradInput: dx.pointer,
                                 gradWeight: dw.pointer, gradBias: db.pointer, reluOutput: y.readOnly, pool: pool)
            #expect(y.array == planes.map { whole.output[$0] }, "channel \(channel)")
            #expect(dx.array == planes.map { whole.gradInput[$0] }, "channel \(channel)")
            #expect(dw.array == [whole.gradWeight[channel]] && db.array == [whole.gradBias[channel]], "channel \(channel)")
            #expect(variance.array == [whole.runningVar[channel]], "channel \(channel)")
        }
    }

    @Test(arguments: [1, 2])
    func residualAddWithReLUMatchesSeparatePasses(threads: Int) {
        let pool = ThreadPool(threadCount: threads)
        for count in [7, 16, 100_003] {
            let a = Self.values(count, seed: 5), b = Self.values(count, seed: 6).map { -$0 }, dy = Self.values(count, seed: 7)
            // Separate: sum, ReLU, ReLU backward, copy to both inputs.
            let sum = OpsBuffer(repeating: Float.nan, count: count)
            Elementwise.add(count: count, a, b, into: sum.pointer)
            Activation.forward(.relu, count: count, input: sum.readOnly, output: sum.pointer, pool: pool)
            let masked = OpsBuffer(dy)
            Activation.backward(.relu, count: count, input: sum.readOnly, output: sum.readOnly, gradOutput: masked.readOnly,
                                gradInput: masked.pointer, pool: pool)
            // Fused: the first input's gradient shares the output gradient, the second gets its own.
            let output = OpsBuffer(repeating: Float.nan, count: count), gradient = OpsBuffer(dy)
            let second = OpsBuffer(repeating: Float.nan, count: count)
            ResidualAdd.forward(count: count, a, b, into: output.pointer, relu: true, pool: pool)
            ResidualAdd.backward(count: count, output: output.readOnly, gradOutput: gradient.pointer, relu: true,
                                 targets: gradient.pointer, second.pointer, pool: pool)
            #expect(output.array == sum.array, "\(count)")
            #expect(gradient.array == masked.array, "\(count)")
            #expect(second.array == masked.array, "\(count)")
            // Without the ReLU: a plain sum, the gradient copied to both targets.
            let first = OpsBuffer(repeating: Float.nan, count: count), plain = OpsBuffer(dy)
            ResidualAdd.forward(count: count, a, b, into: output.pointer, relu: false, pool: pool)
            ResidualAdd.backward(count: count, output: output.readOnly, gradOutput: plain.pointer, relu: false,
                                 targets: first.pointer, second.pointer, pool: pool)
            #expect(output.array == zip(a, b).map { $0 + $1 })
            #expect(first.array == dy && second.array == dy && plain.array == dy)
        }
    }
}
