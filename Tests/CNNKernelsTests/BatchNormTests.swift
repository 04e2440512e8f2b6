import Testing
import CNNKernels
import PyTorchFixtures

@Suite struct BatchNormTests {
    struct Result {
        var output: [Float], runningMean: [Float], runningVar: [Float]
        var gradInput: [Float], gradWeight: [Float], gradBias: [Float]
    }

    static func train(shape: [Int], input: [Float], weight: [Float], bias: [Float], gradOutput: [Float],
                      momentum: Float = 0.1, eps: Float = 1e-5, threads: Int = 2) -> Result {
        let pool = ThreadPool(threadCount: threads)
        let (batch, channels, spatial) = (shape[0], shape[1], shape[2] * shape[3])
        let x = OpsBuffer(input), w = OpsBuffer(weight), b = OpsBuffer(bias), dy = OpsBuffer(gradOutput)
        let runningMean = OpsBuffer(repeating: Float(0), count: channels), runningVar = OpsBuffer(repeating: Float(1), count: channels)
        let saveMean = OpsBuffer(repeating: Float.nan, count: channels), saveInvStd = OpsBuffer(repeating: Float.nan, count: channels)
        let y = OpsBuffer(repeating: Float.nan, count: input.count), dx = OpsBuffer(repeating: Float.nan, count: input.count)
        let dw = OpsBuffer(repeating: Float.nan, count: channels), db = OpsBuffer(repeating: Float.nan, count: channels)
        BatchNorm2D.forwardTraining(batch: batch, channels: channels, spatial: spatial, eps: eps, momentum: momentum,
                                    input: x.readOnly, weight: w.readOnly, bias: b.readOnly, runningMean: runningMean.pointer,
                                    runningVar: runningVar.pointer, saveMean: saveMean.pointer, saveInvStd: saveInvStd.pointer,
                                    output: y.pointer, pool: pool)
        BatchNorm2D.backward(batch: batch, channels: channels, spatial: spatial, input: x.readOnly, gradOutput: dy.readOnly,
                             weight: w.readOnly, saveMean: saveMean.readOnly, saveInvStd: saveInvStd.readOnly,
                             gradInput: dx.pointer, gradWeight: dw.pointer, gradBias: db.pointer, pool: pool)
        return Result(output: y.array, runningMean: runningMean.array, runningVar: runningVar.array,
                      gradInput: dx.array, gradWeight: dw.array, gradBias: db.array)
    }

    @Test func trainingMatchesPyTorch() throws {
        let fixture = try PyTorchFixture.load("batchnorm2d_train")
        let input = try fixture.tensor("input")
        let result = Self.train(shape: input.shape, input: input.data, weight: try fixture.tensor("weight").data,
                                bias: try fixture.tensor("bias").data, gradOutput: try fixture.tensor("grad_output").data,
                                momentum: Float(fixture.config["momentum"] as? Double ?? .nan),
                                eps: Float(fixture.config["eps"] as? Double ?? .nan))
        #expect(maxRelativeError(result.output, try fixture.tensor("output").data) <= 1e-4)
        #expect(maxRelativeError(result.gradInput, try fixture.tensor("grad_input").data) <= 1e-4)
        #expect(maxRelativeError(result.gradWeight, try fixture.tensor("grad_weight").data) <= 1e-4)
        #expect(maxRelativeError(result.gradBias, try fixture.tensor("grad_bias").data) <= 1e-4)
        #expect(maxRelativeError(result.runningMean, try fixture.tensor("running_mean_after").data) <= 1e-4)
        #expect(maxRelativeError(result.runningVar, try fixture.tensor("running_var_after").data) <= 1e-4)
    }

    @Test func inferenceMatchesPyTorch() throws {
        let fixture = try PyTorchFixture.load("batchnorm2d_eval")
        let input = try fixture.tensor("input")
        let channels = input.shape[1]
        let x = OpsBuffer(input.data), y = OpsBuffer(repeating: Float.nan, count: input.data.count)
        let w = OpsBuffer(try fixture.tensor("weight").data), b = OpsBuffer(try fixture.tensor("bias").data)
        let mean = OpsBuffer(try fixture.tensor("running_mean").data), variance = OpsBuffer(try fixture.tensor("running_var").data)
        BatchNorm2D.forwardInference(batch: input.shape[0], channels: channels, spatial: input.shape[2] * input.shape[3],
                                     eps: Float(fixture.config["eps"] as? Double ?? .nan), input: x.readOnly, weight: w.readOnly,
                                     bias: b.readOnly, runningMean: mean.readOnly, runningVar: variance.readOnly, output: y.pointer,
                                     pool: ThreadPool(threadCount: 2))
        #expect(maxRelativeError(y.array, try fixture.tensor("output").data) <= 1e-4)
    }

    /// Finite differences of Σ gradOutput·output w.r.t. input, weight and bias (batch statistics
    /// depend on the input, so this checks the full training-mode backward), on an odd spatial size.
    @Test func gradientMatchesFiniteDifferences() {
        let shape = [3, 2, 3, 7]
        let count = shape.reduce(1, *)
        let input = OpsTestSupport.randomValues(count, seed: 31, scale: 2)
        let weight: [Float] = [1.5, -0.7], bias: [Float] = [0.2, -0.3]
        let gradOutput = OpsTestSupport.randomValues(count, seed: 32)
        let analytic = Self.train(shape: shape, input: input, weight: weight, bias: bias, gradOutput: gradOutput)
        func loss(_ x: [Float], _ w: [Float], _ b: [Float]) -> Double {
            OpsTestSupport.dot(gradOutput, Self.train(shape: shape, input: x, weight: w, bias: b, gradOutput: gradOutput, threads: 1).output)
        }
        let numericInput = OpsTestSupport.numericalGradient(input, step: 1e-2) { loss($0, weight, bias) }
        let numericWeight = OpsTestSupport.numericalGradient(weight, step: 1e-2) { loss(input, $0, bias) }
        let numericBias = OpsTestSupport.numericalGradient(bias, step: 1e-2) { loss(input, weight, $0) }
        #expect(maxRelativeError(analytic.gradInput, numericInput, floor: 1e-2) <= 1e-2)
        #expect(maxRelativeError(analytic.gradWeight, numericWeight, floor: 1e-2) <= 1e-2)
        #expect(maxRelativeError(analytic.gradBias, numericBias, floor: 1e-2) <= 1e-2)
    }

    /// Threaded over channels and vectorised over long planes: identical to one thread, and normalised
    /// channels have mean 0 and biased variance 1 (before the affine weight 1, bias 0).
    @Test func largeThreadedBatchIsNormalised() {
        let shape = [20, 4, 17, 19]
        let count = shape.reduce(1, *)
        let input = OpsTestSupport.randomValues(count, seed: 33, scale: 3).map { $0 * 2 + 5 }
        let ones = [Float](repeating: 1, count: 4), zeros = [Float](repeating: 0, count: 4)
        let gradOutput = OpsTestSupport.randomValues(count, seed: 34)
        let threaded = Self.train(shape: shape, input: input, weight: ones, bias: zeros, gradOutput: gradOutput, threads: 2)
        let single = Self.train(shape: shape, input: input, weight: ones, bias: zeros, gradOutput: gradOutput, threads: 1)
        #expect(threaded.output == single.output)
        #expect(threaded.gradInput == single.gradInput)
        let spatial = 17 * 19
        for channel in 0..<4 {
            var values: [Double] = []
            for image in 0..<20 { values += threaded.output[((image * 4 + channel) * spatial)..<((image * 4 + channel + 1) * spatial)].map(Double.init) }
            let mean = values.reduce(0, +) / Double(values.count)
            let variance = values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(values.count)
            #expect(abs(mean) < 1e-5)
            #expect(abs(variance - 1) < 1e-3)
        }
    }
}
