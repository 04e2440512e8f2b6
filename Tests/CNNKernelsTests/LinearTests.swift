import CNNKernels
import PyTorchFixtures
import Testing

/// Linear forward/backward against PyTorch's `linear.json`.
struct LinearTests {
    @Test func matchesPyTorch() throws {
        let fixture = try PyTorchFixture.load("linear")
        let input = try fixture.tensor("input"), weight = try fixture.tensor("weight")
        let bias = try fixture.tensor("bias").data, gradOutput = try fixture.tensor("grad_output").data
        let batch = input.shape[0], inFeatures = input.shape[1], outFeatures = weight.shape[0]
        let gemm = GEMM(pool: ThreadPool(threadCount: 2))
        var output = [Float](repeating: .nan, count: batch * outFeatures)
        var gradInput = [Float](repeating: .nan, count: batch * inFeatures)
        var gradWeight = [Float](repeating: .nan, count: outFeatures * inFeatures)
        var gradBias = [Float](repeating: .nan, count: outFeatures)
        Linear.forward(batch: batch, inFeatures: inFeatures, outFeatures: outFeatures, input: input.data,
                       weight: weight.data, bias: bias, output: &output, gemm: gemm)
        Linear.backward(batch: batch, inFeatures: inFeatures, outFeatures: outFeatures, input: input.data,
                        weight: weight.data, gradOutput: gradOutput, gradInput: &gradInput,
                        gradWeight: &gradWeight, gradBias: &gradBias, gemm: gemm)
        #expect(maxRelativeError(output, try fixture.tensor("output").data) < 1e-4)
        #expect(maxRelativeError(gradInput, try fixture.tensor("grad_input").data) < 1e-4)
        #expect(maxRelativeError(gradWeight, try fixture.tensor("grad_weight").data) < 1e-4)
        #expect(maxRelativeError(gradBias, try fixture.tensor("grad_bias").data) < 1e-4)
    }

    @Test func noBiasAndNoGradInput() throws {
        let fixture = try PyTorchFixture.load("linear")
        let input = try fixture.tensor("input"), weight = try fixture.tensor("weight")
        let bias = try fixture.tensor("bias").data, gradOutput = try fixture.tensor("grad_output").data
        let batch = input.shape[0], inFeatures = input.shape[1], outFeatures = weight.shape[0]
        let gemm = GEMM(pool: ThreadPool(threadCount: 1))
        var output = [Float](repeating: .nan, count: batch * outFeatures)
        Linear.forward(batch: batch, inFeatures: inFeatures, outFeatures: outFeatures, input: input.data,
                       weight: weight.data, bias: nil, output: &output, gemm: gemm)
        var expected = try fixture.tensor("output").data
        for i in 0..<expected.count { expected[i] -= bias[i % outFeatures] }
        #expect(maxRelativeError(output, expected) < 1e-4)
        var gradWeight = [Float](repeating: .nan, count: outFeatures * inFeatures)
        Linear.backward(batch: batch, inFeatures: inFeatures, outFeatures: outFeatures, input: input.data,
                        weight: weight.data, gradOutput: gradOutput, gradInput: nil,
                        gradWeight: &gradWeight, gradBias: nil, gemm: gemm)
        #expect(maxRelativeError(gradWeight, try fixture.tensor("grad_weight").data) < 1e-4)
    }
}
