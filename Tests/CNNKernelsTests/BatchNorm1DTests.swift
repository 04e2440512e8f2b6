import Testing
import CNNKernels
import PyTorchFixtures

@Suite struct BatchNorm1DTests {
    @Test func trainingMatchesPyTorch() throws {
        let fixture = try PyTorchFixture.load("batchnorm1d_train")
        let input = try fixture.tensor("input")
        let (batch, features) = (input.shape[0], input.shape[1])
        let pool = ThreadPool(threadCount: 2)
        let x = OpsBuffer(input.data), w = OpsBuffer(try fixture.tensor("weight").data), b = OpsBuffer(try fixture.tensor("bias").data)
        let dy = OpsBuffer(try fixture.tensor("grad_output").data)
        let runningMean = OpsBuffer(repeating: Float(0), count: features), runningVar = OpsBuffer(repeating: Float(1), count: features)
        let saveMean = OpsBuffer(repeating: Float.nan, count: features), saveInvStd = OpsBuffer(repeating: Float.nan, count: features)
        let y = OpsBuffer(repeating: Float.nan, count: input.data.count), dx = OpsBuffer(repeating: Float.nan, count: input.data.count)
        let dw = OpsBuffer(repeating: Float.nan, count: features), db = OpsBuffer(repeating: Float.nan, count: features)
        let eps = Float(fixture.config["eps"] as? Double ?? .nan), momentum = Float(fixture.config["momentum"] as? Double ?? .nan)
        BatchNorm1D.forwardTraining(batch: batch, features: features, eps: eps, momentum: momentum, input: x.readOnly,
                                    weight: w.readOnly, bias: b.readOnly, runningMean: runningMean.pointer,
                                    runningVar: runningVar.pointer, saveMean: saveMean.pointer, saveInvStd: saveInvStd.pointer,
                                    output: y.pointer, pool: pool)
        BatchNorm1D.backward(batch: batch, features: features, input: x.readOnly, gradOutput: dy.readOnly, weight: w.readOnly,
                             saveMean: saveMean.readOnly, saveInvStd: saveInvStd.readOnly, gradInput: dx.pointer,
                             gradWeight: dw.pointer, gradBias: db.pointer, pool: pool)
        let expectedOutput = try fixture.tensor("output").data
        let outputError = maxRelativeError(y.array, expectedOutput)
        #expect(outputError <= 1e-4, "\(outputError) \(y.array.prefix(10)) \(expectedOutput.prefix(10))")
        #expect(maxRelativeError(dx.array, try fixture.tensor("grad_input").data) <= 1e-4)
        #expect(maxRelativeError(dw.array, try fixture.tensor("grad_weight").data) <= 1e-4)
        #expect(maxRelativeError(db.array, try fixture.tensor("grad_bias").data) <= 1e-4)
        #expect(maxRelativeError(runningMean.array, try fixture.tensor("running_mean").data) <= 1e-4)
        #expect(maxRelativeError(runningVar.array, try fixture.tensor("running_var").data) <= 1e-4)

        // Eval with the updated running statistics: the affine map PyTorch's formula gives.
        let evaluated = OpsBuffer(repeating: Float.nan, count: input.data.count)
        BatchNorm1D.forwardInference(batch: batch, features: features, eps: eps, input: x.readOnly, weight: w.readOnly,
                                     bias: b.readOnly, runningMean: runningMean.readOnly, runningVar: runningVar.readOnly,
                                     output: evaluated.pointer, pool: pool)
        let weight = w.array, bias = b.array, mean = runningMean.array, variance = runningVar.array
        let expected = input.data.enumerated().map { index, value in
            let f = index % features
            return Float((Double(value) - Double(mean[f])) / (Double(variance[f]) + Double(eps)).squareRoot()
                * Double(weight[f]) + Double(bias[f]))
        }
        #expect(maxRelativeError(evaluated.array, expected) <= 1e-5)
    }
}
