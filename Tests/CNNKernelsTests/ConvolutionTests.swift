@testable import CNNKernels
import PyTorchFixtures
import Testing

/// Every convolution backend against PyTorch fixtures, a Float64 reference on random geometries, and
/// finite differences of its own forward pass.
/// A pool runs one job at a time, so every test builds its own GEMM (tests run concurrently).
struct ConvolutionTests {
    let gemm = GEMM(pool: ThreadPool(threadCount: 2))
    static let fixtureNames = PyTorchFixture.names(withPrefix: "conv2d_")

    @Test func fixturesExist() { #expect(Self.fixtureNames.count >= 7) }

    @Test(arguments: ConvolutionBackendKind.allCases, KernelTarget.allCases)
    func matchesPyTorchFixtures(kind: ConvolutionBackendKind, target: KernelTarget) throws {
        let gemm = GEMM(pool: ThreadPool(threadCount: 2), target: target)
        for name in Self.fixtureNames {
            let fixture = try PyTorchFixture.load(name)
            let input = try fixture.tensor("input"), weight = try fixture.tensor("weight")
            let kernelSize = fixture.pair("kernel"), stride = fixture.pair("stride"), padding = fixture.pair("padding")
            let batch = input.shape[0]
            let g = ConvolutionGeometry(batch: batch, inChannels: input.shape[1], inHeight: input.shape[2],
                                        inWidth: input.shape[3], outChannels: weight.shape[0],
                                        kernelHeight: kernelSize[0], kernelWidth: kernelSize[1],
                                        strideHeight: stride[0], strideWidth: stride[1],
                                        paddingHeight: padding[0], paddingWidth: padding[1])
            guard let kernel = try makeIfSupported(kind, geometry: g, gemm: gemm) else { continue }
            let run = ConvolutionRun(kernel: kernel)
            let gradOutput = try fixture.tensor("grad_output").data
            let output = run.forward(batch: batch, input: input.data, weight: weight.data,
                                     bias: try fixture.tensor("bias").data)
            let gradInput = run.backwardData(batch: batch, gradOutput: gradOutput, weight: weight.data)
            let grads = run.backwardWeights(batch: batch, input: input.data, gradOutput: gradOutput)
            #expect(try fixture.tensor("output").shape == [batch, g.outChannels, g.outHeight, g.outWidth])
            let errors = try convolutionFixtureErrors(fixture, output: output, gradInput: gradInput,
                                                     gradWeight: grads.weight, gradBias: grads.bias)
            // Winograd adds and subtracts inputs before it multiplies (about 10 ulp of the tensor's scale where a
            // direct sum has 1–2): within 1e-4 once the floor is the tensor's scale (measured 7e-6).
            for (tensor, error) in errors { #expect(error < 1e-4, "\(kind) \(name) \(tensor): \(error)") }
        }
    }

    static func randomGeometry(_ random: inout TestRandom) -> ConvolutionGeometry {
        while true {
            let g = ConvolutionGeometry(
                batch: random.int(1...4), inChannels: random.int(1...5), inHeight: random.int(1...19),
                inWidth: random.int(1...37), outChannels: random.int(1...9),
                kernelHeight: random.int(1...5), kernelWidth: random.int(1...5),
                strideHeight: random.int(1...3), strideWidth: random.int(1...3),
                paddingHeight: random.int(0...3), paddingWidth: random.int(0...3))
            if g.problem == nil { return g }
        }
    }

    @Test(arguments: ConvolutionBackendKind.allCases, KernelTarget.allCases)
    func randomGeometriesMatchReference(kind: ConvolutionBackendKind, target: KernelTarget) throws {
        let gemm = GEMM(pool: ThreadPool(threadCount: 2), target: target)
        var random = TestRandom(seed: 1234)
        for _ in 0..<40 {
            let g = Self.randomGeometry(&random)
            let batch = random.int(1...g.batch)
            guard let kernel = try makeIfSupported(kind, geometry: g, gemm: gemm) else { continue }
            let run = ConvolutionRun(kernel: kernel)
            let input = random.array(batch * g.inputImageSize)
            let weight = random.array(g.outChannels * g.patchSize)
            let bias = random.array(g.outChannels)
            let gradOutput = random.array(batch * g.outputImageSize)
            let withBias = random.int(0...1) == 1 ? bias : nil
            let expectedOut = ConvolutionReference.forward(g, batch: batch, input: input, weight: weight, bias: withBias)
            let expectedIn = ConvolutionReference.backwardData(g, batch: batch, gradOutput: gradOutput, weight: weight)
            let expectedW = ConvolutionReference.backwardWeights(g, batch: batch, input: input, gradOutput: gradOutput)
            let output = run.forward(batch: batch, input: input, weight: weight, bias: withBias)
            let gradInput = run.backwardData(batch: batch, gradOutput: gradOutput, weight: weight)
            let grads = run.backwardWeights(batch: batch, input: input, gradOutput: gradOutput)
            let label = "\(kind) batch \(batch) \(g)"
            #expect(maxRelativeError(output, expectedOut, floor: scaledFloor(expectedOut)) < 1e-4, "\(label) forward")
            #expect(maxRelativeError(gradInput, expectedIn, floor: scaledFloor(expectedIn)) < 1e-4, "\(label) backwardData")
            #expect(maxRelativeError(grads.weight, expectedW.weight, floor: scaledFloor(expectedW.weight)) < 1e-4, "\(label) gradWeight")
            #expect(maxRelativeError(grads.bias, expectedW.bias, floor: scaledFloor(expectedW.bias)) < 1e-4, "\(label) gradBias")
        }
    }

    /// L = Σ output·R, so dL/dx (backwardData with gradOutput R) and dL/dw, dL/db (backwardWeights) must match
    /// central differences of L computed through the backend's own forward pass.
    @Test(arguments: ConvolutionBackendKind.allCases, KernelTarget.allCases)
    func gradientsMatchFiniteDifferences(kind: ConvolutionBackendKind, target: KernelTarget) throws {
        let gemm = GEMM(pool: ThreadPool(threadCount: 2), target: target)
        var random = TestRandom(seed: 99)
        let g = ConvolutionGeometry(batch: 2, inChannels: 3, inHeight: 9, inWidth: 11, outChannels: 4,
                                    kernelHeight: 3, kernelWidth: 4, strideHeight: 2, strideWidth: 1,
                                    paddingHeight: 1, paddingWidth: 2)
        guard let kernel = try makeIfSupported(kind, geometry: g, gemm: gemm) else { return }
        let run = ConvolutionRun(kernel: kernel)
        let input = random.array(2 * g.inputImageSize)
        let weight = random.array(g.outChannels * g.patchSize)
        let bias = random.array(g.outChannels)
        let r = random.array(2 * g.outputImageSize)
        func loss(_ x: [Float], _ w: [Float], _ b: [Float]) -> Double {
            let out = run.forward(batch: 2, input: x, weight: w, bias: b)
            return zip(out, r).reduce(0) { $0 + Double($1.0) * Double($1.1) }
        }
        let gradInput = run.backwardData(batch: 2, gradOutput: r, weight: weight)
        let grads = run.backwardWeights(batch: 2, input: input, gradOutput: r)
        let epsilon: Float = 0.05
        func difference(_ plus: Double, _ minus: Double) -> Float { Float((plus - minus) / Double(2 * epsilon)) }
        for _ in 0..<12 {
            let i = random.int(0...(input.count - 1))
            var plus = input, minus = input
            plus[i] += epsilon; minus[i] -= epsilon
            let numeric = difference(loss(plus, weight, bias), loss(minus, weight, bias))
            #expect(abs(numeric - gradInput[i]) <= 2e-3 * max(1, abs(numeric)), "\(kind) dL/dx[\(i)]")
        }
        for _ in 0..<12 {
            let i = random.int(0...(weight.count - 1))
            var plus = weight, minus = weight
            plus[i] += epsilon; minus[i] -= epsilon
            let numeric = difference(loss(input, plus, bias), loss(input, minus, bias))
            #expect(abs(numeric - grads.weight[i]) <= 2e-3 * max(1, abs(numeric)), "\(kind) dL/dw[\(i)]")
        }
        for i in 0..<g.outChannels {
            var plus = bias, minus = bias
            plus[i] += epsilon; minus[i] -= epsilon
            let numeric = difference(loss(input, weight, plus), loss(input, weight, minus))
            #expect(abs(numeric - grads.bias[i]) <= 2e-3 * max(1, abs(numeric)), "\(kind) dL/db[\(i)]")
        }
    }

    /// Absolute floor for relative errors: 1% of the largest magnitude (float32 sums of many products cancel).
    @Test func backendsAgreeOnModelLayerAndBatchBelowCapacity() throws {
        var random = TestRandom(seed: 5)
        let g = ConvolutionGeometry(batch: 5, inChannels: 6, inHeight: 14, inWidth: 14, outChannels: 16,
                                    kernelHeight: 5, kernelWidth: 5, strideHeight: 1, strideWidth: 1,
                                    paddingHeight: 2, paddingWidth: 2)
        let batch = 3
        let input = random.array(batch * g.inputImageSize), weight = random.array(g.outChannels * g.patchSize)
        let gradOutput = random.array(batch * g.outputImageSize), bias = random.array(g.outChannels)
        let runs = try ConvolutionBackendKind.allCases.compactMap {
            try makeIfSupported($0, geometry: g, gemm: gemm).map { ConvolutionRun(kernel: $0) }
        }
        #expect(runs.count == 3)
        let expectedOut = ConvolutionReference.forward(g, batch: batch, input: input, weight: weight, bias: bias)
        let expectedIn = ConvolutionReference.backwardData(g, batch: batch, gradOutput: gradOutput, weight: weight)
        let expectedW = ConvolutionReference.backwardWeights(g, batch: batch, input: input, gradOutput: gradOutput)
        for run in runs {
            let output = run.forward(batch: batch, input: input, weight: weight, bias: bias)
            let gradInput = run.backwardData(batch: batch, gradOutput: gradOutput, weight: weight)
            let grads = run.backwardWeights(batch: batch, input: input, gradOutput: gradOutput)
            #expect(maxRelativeError(output, expectedOut, floor: scaledFloor(expectedOut)) < 1e-4, "\(run.kernel.kind)")
            #expect(maxRelativeError(gradInput, expectedIn, floor: scaledFloor(expectedIn)) < 1e-4, "\(run.kernel.kind)")
            #expect(maxRelativeError(grads.weight, expectedW.weight, floor: scaledFloor(expectedW.weight)) < 1e-4,
                    "\(run.kernel.kind)")
            #expect(maxRelativeError(grads.bias, expectedW.bias, floor: scaledFloor(expectedW.bias)) < 1e-4,
                    "\(run.kernel.kind)")
        }
    }

    @Test func invalidGeometryAndOversizedToeplitzThrow() {
        let bad = ConvolutionGeometry(batch: 1, inChannels: 1, inHeight: 3, inWidth: 3, outChannels: 1,
                                      kernelHeight: 5, kernelWidth: 5, strideHeight: 1, strideWidth: 1,
                                      paddingHeight: 0, paddingWidth: 0)
        #expect(throws: ConvolutionError.self) { try makeConvolution(.im2col, geometry: bad, gemm: gemm) }
        let huge = ConvolutionGeometry(batch: 1, inChannels: 64, inHeight: 64, inWidth: 64, outChannels: 64,
                                       kernelHeight: 3, kernelWidth: 3, strideHeight: 1, strideWidth: 1,
                                       paddingHeight: 1, paddingWidth: 1)
        do {
            _ = try makeConvolution(.toeplitz, geometry: huge, gemm: gemm)
            Issue.record("expected toeplitzTooLarge")
        } catch let error as ConvolutionError {
            #expect(error.description.contains("im2col"))
        } catch {
            Issue.record("unexpected \(error)")
        }
    }
}
