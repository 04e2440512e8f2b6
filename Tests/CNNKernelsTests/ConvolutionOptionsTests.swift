@testable import CNNKernels
import PyTorchFixtures
import Testing

/// PyTorch's Conv2d options — dilation, groups (incl. depthwise with a multiplier), asymmetric ('same')
/// padding and reflect / replicate / circular padding modes — through every backend that accepts them:
/// PyTorch fixtures (`convopt_*`), a Float64 reference on random geometries, finite differences, and the
/// refusals (thrown errors, never traps) that let `auto` skip a backend.
struct ConvolutionOptionsTests {
    let gemm = GEMM(pool: ThreadPool(threadCount: 2))
    static let fixtureNames = PyTorchFixture.names(withPrefix: "convopt_")

    @Test func fixturesExist() { #expect(Self.fixtureNames.count >= 12) }

    /// The geometry a `convopt_*` fixture describes (config: kernel, stride, padding or explicit_padding,
    /// dilation, groups, padding_mode).
    static func geometry(_ fixture: PyTorchFixture) throws -> ConvolutionGeometry {
        let input = try fixture.tensor("input"), weight = try fixture.tensor("weight")
        let kernel = fixture.pair("kernel"), dilation = fixture.pair("dilation")
        let stride = fixture.pair("stride").isEmpty ? [1, 1] : fixture.pair("stride")
        var padding = fixture.pair("padding")
        if let explicit = fixture.config["explicit_padding"] as? [String: Int] {
            padding = [explicit["top"] ?? 0, explicit["bottom"] ?? 0, explicit["left"] ?? 0, explicit["right"] ?? 0]
        } else {
            padding = [padding[0], padding[0], padding[1], padding[1]]
        }
        let mode = ConvolutionPaddingMode(rawValue: fixture.config["padding_mode"] as? String ?? "zeros") ?? .zeros
        return ConvolutionGeometry(batch: input.shape[0], inChannels: input.shape[1], inHeight: input.shape[2],
                                   inWidth: input.shape[3], outChannels: weight.shape[0],
                                   kernelHeight: kernel[0], kernelWidth: kernel[1],
                                   strideHeight: stride[0], strideWidth: stride[1],
                                   paddingTop: padding[0], paddingBottom: padding[1],
                                   paddingLeft: padding[2], paddingRight: padding[3],
                                   dilationHeight: dilation.isEmpty ? 1 : dilation[0],
                                   dilationWidth: dilation.isEmpty ? 1 : dilation[1],
                                   groups: fixture.config["groups"] as? Int ?? 1, paddingMode: mode)
    }

    /// `samePadding` reproduces the top/bottom/left/right PyTorch reports for every 'same' fixture.
    @Test func samePaddingMatchesPyTorch() throws {
        var checked = 0
        for name in Self.fixtureNames {
            let fixture = try PyTorchFixture.load(name)
            guard fixture.config["padding"] as? String == "same" else { continue }
            let g = try Self.geometry(fixture)
            let vertical = ConvolutionGeometry.samePadding(kernel: g.kernelHeight, dilation: g.dilationHeight)
            let horizontal = ConvolutionGeometry.samePadding(kernel: g.kernelWidth, dilation: g.dilationWidth)
            #expect([vertical.begin, vertical.end, horizontal.begin, horizontal.end]
                        == [g.paddingTop, g.paddingBottom, g.paddingLeft, g.paddingRight], "\(name)")
            #expect(g.outHeight == g.inHeight && g.outWidth == g.inWidth, "\(name)")
            checked += 1
        }
        #expect(checked >= 3)
    }

    @Test(arguments: ConvolutionBackendKind.allCases, KernelTarget.allCases)
    func matchesPyTorchFixtures(kind: ConvolutionBackendKind, target: KernelTarget) throws {
        let gemm = GEMM(pool: ThreadPool(threadCount: 2), target: target)
        var ran = 0, expected = 0
        for name in Self.fixtureNames {
            let fixture = try PyTorchFixture.load(name)
            let g = try Self.geometry(fixture)
            let input = try fixture.tensor("input").data, weight = try fixture.tensor("weight").data
            let backendGeometry = g.needsPaddingStage ? g.paddedInputGeometry : g
            let refused = kind == .depthwise && !g.isDepthwise || kind == .toeplitz && g.groups > 1
                || kind == .winograd && WinogradConvolution.unsupportedReason(backendGeometry) != nil
            expected += refused ? 0 : 1
            #expect(try fixture.tensor("weight").shape == [g.outChannels, g.inChannels / g.groups, g.kernelHeight,
                                                          g.kernelWidth], "\(name)")
            guard let kernel = try makeIfSupported(kind, geometry: g, gemm: gemm) else {
                #expect(refused, "\(kind) refused \(name)")  // only the documented refusals
                continue
            }
            ran += 1
            let run = ConvolutionRun(kernel: kernel), batch = g.batch
            let gradOutput = try fixture.tensor("grad_output").data
            let output = run.forward(batch: batch, input: input, weight: weight, bias: try fixture.tensor("bias").data)
            let gradInput = run.backwardData(batch: batch, gradOutput: gradOutput, weight: weight)
            let grads = run.backwardWeights(batch: batch, input: input, gradOutput: gradOutput)
            #expect(try fixture.tensor("output").shape == [batch, g.outChannels, g.outHeight, g.outWidth], "\(name)")
            let errors = try convolutionFixtureErrors(fixture, output: output, gradInput: gradInput,
                                                     gradWeight: grads.weight, gradBias: grads.bias)
            for (tensor, error) in errors { #expect(error < 1e-4, "\(kind) \(name) \(tensor): \(error)") }
        }
        // Winograd takes only the 3×3 stride-1 fixtures.
        #expect(ran == expected && ran >= (kind == .winograd ? 2 : 3), "\(kind) ran \(ran) fixtures")
    }

    /// A random geometry with the new options; about half of them depthwise so that backend is exercised.
    static func randomGeometry(_ random: inout TestRandom) -> ConvolutionGeometry {
        while true {
            let depthwise = random.int(0...1) == 1
            let groups = depthwise ? random.int(1...5) : [1, 1, 2, 3][random.int(0...3)]
            let inChannels = depthwise ? groups : groups * random.int(1...3)
            let outChannels = groups * random.int(1...(depthwise ? 3 : 4))
            let mode = ConvolutionPaddingMode.allCases[random.int(0...3)]
            let g = ConvolutionGeometry(
                batch: random.int(1...3), inChannels: inChannels, inHeight: random.int(1...15),
                inWidth: random.int(1...37), outChannels: outChannels,
                kernelHeight: random.int(1...5), kernelWidth: random.int(1...5),
                strideHeight: random.int(1...3), strideWidth: random.int(1...3),
                paddingTop: random.int(0...3), paddingBottom: random.int(0...3),
                paddingLeft: random.int(0...3), paddingRight: random.int(0...3),
                dilationHeight: random.int(1...3), dilationWidth: random.int(1...3), groups: groups,
                paddingMode: random.int(0...1) == 1 ? .zeros : mode)
            if g.problem == nil { return g }
        }
    }

    @Test(arguments: ConvolutionBackendKind.allCases, KernelTarget.allCases)
    func randomGeometriesMatchReference(kind: ConvolutionBackendKind, target: KernelTarget) throws {
        let gemm = GEMM(pool: ThreadPool(threadCount: 2), target: target)
        var random = TestRandom(seed: 4321)
        var ran = 0
        for _ in 0..<30 {
            let g = Self.randomGeometry(&random)
            let batch = random.int(1...g.batch)
            let input = random.array(batch * g.inputImageSize), weight = random.array(g.weightCount)
            let bias = random.array(g.outChannels), gradOutput = random.array(batch * g.outputImageSize)
            let withBias = random.int(0...1) == 1 ? bias : nil
            guard let kernel = try makeIfSupported(kind, geometry: g, gemm: gemm) else { continue }
            ran += 1
            let run = ConvolutionRun(kernel: kernel)
            let expectedOut = ConvolutionReference.forward(g, batch: batch, input: input, weight: weight, bias: withBias)
            let expectedIn = ConvolutionReference.backwardData(g, batch: batch, gradOutput: gradOutput, weight: weight)
            let expectedW = ConvolutionReference.backwardWeights(g, batch: batch, input: input, gradOutput: gradOutput)
            let output = run.forward(batch: batch, input: input, weight: weight, bias: withBias)
            let gradInput = run.backwardData(batch: batch, gradOutput: gradOutput, weight: weight)
            let grads = run.backwardWeights(batch: batch, input: input, gradOutput: gradOutput)
            let label = "\(kind) batch \(batch) \(g)"
            #expect(maxRelativeError(output, expectedOut, floor: scaledFloor(expectedOut)) < 1e-4, "\(label) forward")
            #expect(maxRelativeError(gradInput, expectedIn, floor: scaledFloor(expectedIn)) < 1e-4, "\(label) backwardData")
            #expect(maxRelativeError(grads.weight, expectedW.weight, floor: scaledFloor(expectedW.weight)) < 1e-4,
                    "\(label) gradWeight")
            #expect(maxRelativeError(grads.bias, expectedW.bias, floor: scaledFloor(expectedW.bias)) < 1e-4,
                    "\(label) gradBias")
        }
        // These draws mix dilation, groups and strides: Winograd (3×3 stride 1 only) gets none of them;
        // `WinogradConvolutionTests` covers its shapes.
        if kind != .winograd { #expect(ran >= 5, "\(kind) ran only \(ran) geometries") }
    }

    /// Corners the random draw rarely hits: grouped and depthwise 1×1 layers (im2col's no-lowering path),
    /// padding at PyTorch's limits (reflect = size − 1, circular = size) and replicate padding beyond the
    /// input size (which PyTorch has no limit for), one-pixel inputs, padding larger
    /// than the kernel on one side only, a dilated kernel exactly as large as the padded input, and
    /// depthwise layers wider than several vectors with stride 3 and dilation 2.
    @Test(arguments: ConvolutionBackendKind.allCases, KernelTarget.allCases)
    func edgeGeometriesMatchReference(kind: ConvolutionBackendKind, target: KernelTarget) throws {
        let gemm = GEMM(pool: ThreadPool(threadCount: 2), target: target)
        func geometry(cin: Int, cout: Int, h: Int, w: Int, k: (Int, Int), s: (Int, Int) = (1, 1),
                      p: (Int, Int, Int, Int) = (0, 0, 0, 0), d: (Int, Int) = (1, 1), groups: Int = 1,
                      mode: ConvolutionPaddingMode = .zeros) -> ConvolutionGeometry {
            ConvolutionGeometry(batch: 2, inChannels: cin, inHeight: h, inWidth: w, outChannels: cout,
                                kernelHeight: k.0, kernelWidth: k.1, strideHeight: s.0, strideWidth: s.1,
                                paddingTop: p.0, paddingBottom: p.1, paddingLeft: p.2, paddingRight: p.3,
                                dilationHeight: d.0, dilationWidth: d.1, groups: groups, paddingMode: mode)
        }
        let cases = [
            geometry(cin: 4, cout: 6, h: 5, w: 7, k: (1, 1), groups: 2),
            geometry(cin: 3, cout: 6, h: 5, w: 7, k: (1, 1), groups: 3),
            geometry(cin: 2, cout: 2, h: 4, w: 5, k: (3, 3), p: (3, 3, 4, 4), groups: 2, mode: .reflect),
            geometry(cin: 2, cout: 4, h: 3, w: 4, k: (2, 3), p: (3, 3, 4, 4), groups: 2, mode: .circular),
            geometry(cin: 1, cout: 3, h: 1, w: 1, k: (3, 3), p: (1, 1, 1, 1), mode: .replicate),
            // Replicate padding beyond the input (PyTorch accepts it: every padded pixel copies the nearest edge).
            geometry(cin: 3, cout: 4, h: 4, w: 4, k: (3, 3), p: (6, 6, 6, 6), mode: .replicate),
            geometry(cin: 2, cout: 2, h: 2, w: 3, k: (2, 3), s: (2, 1), p: (5, 3, 7, 4), groups: 2, mode: .replicate),
            geometry(cin: 3, cout: 3, h: 1, w: 1, k: (1, 1), groups: 3),
            geometry(cin: 2, cout: 3, h: 6, w: 9, k: (2, 2), s: (2, 3), p: (4, 0, 0, 5)),
            geometry(cin: 2, cout: 2, h: 5, w: 5, k: (3, 3), p: (1, 1, 1, 1), d: (3, 3), groups: 2),
            geometry(cin: 3, cout: 6, h: 11, w: 83, k: (3, 4), s: (3, 3), p: (1, 2, 3, 0), d: (2, 2), groups: 3),
            geometry(cin: 2, cout: 2, h: 9, w: 70, k: (3, 3), s: (1, 2), p: (1, 1, 2, 1), d: (1, 3), groups: 2,
                     mode: .reflect),
        ]
        var random = TestRandom(seed: 606)
        for g in cases {
            #expect(g.problem == nil, "\(g)")
            guard let kernel = try makeIfSupported(kind, geometry: g, gemm: gemm) else { continue }
            let run = ConvolutionRun(kernel: kernel)
            for (pass, error) in run.errorsAgainstReference(batch: g.batch, random: &random, floor: { scaledFloor($0) }) {
                #expect(error < 1e-4, "\(kind) \(g) \(pass)")
            }
        }
    }

    /// 1% of the largest magnitude: float32 sums of many products cancel.
    /// Central differences of L = Σ output·R through each backend's own forward pass, on layers that
    /// combine dilation, groups, asymmetric padding and each padding mode.
    @Test(arguments: ConvolutionBackendKind.allCases, KernelTarget.allCases)
    func gradientsMatchFiniteDifferences(kind: ConvolutionBackendKind, target: KernelTarget) throws {
        let gemm = GEMM(pool: ThreadPool(threadCount: 2), target: target)
        let geometries = [
            ConvolutionGeometry(batch: 2, inChannels: 4, inHeight: 9, inWidth: 10, outChannels: 6,
                                kernelHeight: 3, kernelWidth: 2, strideHeight: 2, strideWidth: 1,
                                paddingTop: 1, paddingBottom: 2, paddingLeft: 2, paddingRight: 0,
                                dilationHeight: 2, dilationWidth: 3, groups: 2),
            ConvolutionGeometry(batch: 2, inChannels: 3, inHeight: 7, inWidth: 8, outChannels: 6,
                                kernelHeight: 3, kernelWidth: 3, strideHeight: 2, strideWidth: 2,
                                paddingHeight: 1, paddingWidth: 2, dilationHeight: 1, dilationWidth: 2,
                                groups: 3, paddingMode: .reflect),
            ConvolutionGeometry(batch: 2, inChannels: 2, inHeight: 6, inWidth: 7, outChannels: 3,
                                kernelHeight: 4, kernelWidth: 3, strideHeight: 1, strideWidth: 1,
                                paddingTop: 1, paddingBottom: 2, paddingLeft: 1, paddingRight: 1,
                                paddingMode: .replicate),
            // Replicate padding larger than the input: the edge pixels collect the gradients of every copy.
            ConvolutionGeometry(batch: 2, inChannels: 2, inHeight: 3, inWidth: 2, outChannels: 2,
                                kernelHeight: 3, kernelWidth: 3, strideHeight: 1, strideWidth: 1,
                                paddingTop: 5, paddingBottom: 4, paddingLeft: 3, paddingRight: 6,
                                paddingMode: .replicate),
            ConvolutionGeometry(batch: 2, inChannels: 2, inHeight: 5, inWidth: 6, outChannels: 2,
                                kernelHeight: 3, kernelWidth: 3, strideHeight: 1, strideWidth: 2,
                                paddingHeight: 2, paddingWidth: 1, dilationHeight: 2, dilationWidth: 1,
                                groups: 2, paddingMode: .circular),
        ]
        var random = TestRandom(seed: 77)
        for g in geometries {
            guard let kernel = try makeIfSupported(kind, geometry: g, gemm: gemm) else { continue }
            let run = ConvolutionRun(kernel: kernel), batch = g.batch
            let input = random.array(batch * g.inputImageSize), weight = random.array(g.weightCount)
            let bias = random.array(g.outChannels), r = random.array(batch * g.outputImageSize)
            func loss(_ x: [Float], _ w: [Float], _ b: [Float]) -> Double {
                let out = run.forward(batch: batch, input: x, weight: w, bias: b)
                return zip(out, r).reduce(0) { $0 + Double($1.0) * Double($1.1) }
            }
            let gradInput = run.backwardData(batch: batch, gradOutput: r, weight: weight)
            let grads = run.backwardWeights(batch: batch, input: input, gradOutput: r)
            let epsilon: Float = 0.05
            func difference(_ plus: Double, _ minus: Double) -> Float { Float((plus - minus) / Double(2 * epsilon)) }
            let label = "\(kind) \(g.paddingMode) groups \(g.groups)"
            // Every input pixel: the edge pixels are where padding modes fold gradients back.
            for i in 0..<input.count {
                var plus = input, minus = input
                plus[i] += epsilon; minus[i] -= epsilon
                let numeric = difference(loss(plus, weight, bias), loss(minus, weight, bias))
                #expect(abs(numeric - gradInput[i]) <= 2e-3 * max(1, abs(numeric)), "\(label) dL/dx[\(i)]")
            }
            for _ in 0..<10 {
                let i = random.int(0...(weight.count - 1))
                var plus = weight, minus = weight
                plus[i] += epsilon; minus[i] -= epsilon
                let numeric = difference(loss(input, plus, bias), loss(input, minus, bias))
                #expect(abs(numeric - grads.weight[i]) <= 2e-3 * max(1, abs(numeric)), "\(label) dL/dw[\(i)]")
            }
            let i = random.int(0...(g.outChannels - 1))
            var plus = bias, minus = bias
            plus[i] += epsilon; minus[i] -= epsilon
            let numeric = difference(loss(input, weight, plus), loss(input, weight, minus))
            #expect(abs(numeric - grads.bias[i]) <= 2e-3 * max(1, abs(numeric)), "\(label) dL/db[\(i)]")
        }
    }

    /// The MobileNetV2-like shapes the depthwise backend is built for (k3 s1/s2, multiplier 1 and 2, a
    /// width that leaves a vector tail), several planes per thread and a batch below capacity; plus 5×5
    /// stride 2 (generic tap loop, even left padding in the stride-2 split).
    @Test func depthwiseMatchesIm2colOnMobileNetShapes() throws {
        var random = TestRandom(seed: 8)
        for (stride, multiplier, kernel) in [(1, 1, 3), (2, 1, 3), (1, 2, 3), (2, 2, 3), (2, 1, 5)] {
            let g = ConvolutionGeometry(batch: 3, inChannels: 6, inHeight: 21, inWidth: 70, outChannels: 6 * multiplier,
                                        kernelHeight: kernel, kernelWidth: kernel, strideHeight: stride,
                                        strideWidth: stride, paddingHeight: kernel / 2, paddingWidth: kernel / 2,
                                        groups: 6)
            let batch = 2
            let input = random.array(batch * g.inputImageSize), weight = random.array(g.weightCount)
            let bias = random.array(g.outChannels), gradOutput = random.array(batch * g.outputImageSize)
            let depthwise = ConvolutionRun(kernel: try makeConvolution(.depthwise, geometry: g, gemm: gemm))
            let im2col = ConvolutionRun(kernel: try makeConvolution(.im2col, geometry: g, gemm: gemm))
            let expectedOut = im2col.forward(batch: batch, input: input, weight: weight, bias: bias)
            let expectedIn = im2col.backwardData(batch: batch, gradOutput: gradOutput, weight: weight)
            let expectedW = im2col.backwardWeights(batch: batch, input: input, gradOutput: gradOutput)
            // Twice: no state may leak from one call into the next.
            for _ in 0..<2 {
                let output = depthwise.forward(batch: batch, input: input, weight: weight, bias: bias)
                let gradInput = depthwise.backwardData(batch: batch, gradOutput: gradOutput, weight: weight)
                let grads = depthwise.backwardWeights(batch: batch, input: input, gradOutput: gradOutput)
                #expect(maxRelativeError(output, expectedOut, floor: scaledFloor(expectedOut)) < 1e-4)
                #expect(maxRelativeError(gradInput, expectedIn, floor: scaledFloor(expectedIn)) < 1e-4)
                #expect(maxRelativeError(grads.weight, expectedW.weight, floor: scaledFloor(expectedW.weight)) < 1e-4)
                #expect(maxRelativeError(grads.bias, expectedW.bias, floor: scaledFloor(expectedW.bias)) < 1e-4)
            }
        }
    }

    /// The error `makeConvolution` throws for `g` on `kind`, or nil when it builds.
    func error(_ kind: ConvolutionBackendKind, _ g: ConvolutionGeometry) -> ConvolutionError? {
        do {
            _ = try makeConvolution(kind, geometry: g, gemm: gemm)
            return nil
        } catch let error as ConvolutionError {
            return error
        } catch {
            return nil
        }
    }

    @Test func backendsRefuseWhatTheyCannotRunWithReadableErrors() {
        let grouped = ConvolutionGeometry(batch: 1, inChannels: 4, inHeight: 8, inWidth: 8, outChannels: 4,
                                          kernelHeight: 3, kernelWidth: 3, strideHeight: 1, strideWidth: 1,
                                          paddingHeight: 1, paddingWidth: 1, groups: 2)
        guard case .unsupported(.toeplitz, _)? = error(.toeplitz, grouped) else {
            Issue.record("toeplitz must refuse groups")
            return
        }
        let toeplitz = error(.toeplitz, grouped)?.description ?? ""
        #expect(toeplitz.contains("toeplitz") && toeplitz.contains("groups") && toeplitz.contains("im2col"), "\(toeplitz)")
        // Depthwise refuses ordinary and grouped (non-depthwise) layers, and accepts depthwise ones.
        var ordinary = grouped
        ordinary.groups = 1
        for g in [grouped, ordinary] {
            guard case .unsupported(.depthwise, _)? = error(.depthwise, g) else {
                Issue.record("depthwise must refuse groups \(g.groups)")
                continue
            }
            let text = error(.depthwise, g)?.description ?? ""
            #expect(text.contains("depthwise") && text.contains("im2col"), "\(text)")
        }
        var depthwise = grouped
        depthwise.groups = 4
        #expect(error(.depthwise, depthwise) == nil)
        #expect(error(.toeplitz, ordinary) == nil)
        for kind in ConvolutionBackendKind.allCases where kind != .toeplitz && kind != .winograd {
            #expect(error(kind, depthwise.with { $0.outChannels = 8 }) == nil, "\(kind) multiplier 2")
        }
        // Winograd F(2×2, 3×3) runs ungrouped 3×3 stride-1 layers only, and says what it refused.
        let winogradRefusals: [(ConvolutionGeometry, String)] = [
            (grouped, "groups"), (ordinary.with { $0.kernelWidth = 5 }, "3×3"),
            (ordinary.with { $0.strideHeight = 2 }, "stride"), (ordinary.with { $0.dilationWidth = 2 }, "dilation"),
            (ordinary.with { $0.paddingTop = 3 }, "padding")]
        for (g, phrase) in winogradRefusals {
            guard case .unsupported(.winograd, _)? = error(.winograd, g) else {
                Issue.record("winograd must refuse \(phrase)")
                continue
            }
            let text = error(.winograd, g)?.description ?? ""
            #expect(text.contains(phrase) && text.contains("im2col"), "\(text)")
        }
        #expect(error(.winograd, ordinary) == nil)
    }

    @Test func invalidOptionsThrowReadableReasons() {
        let base = ConvolutionGeometry(batch: 1, inChannels: 4, inHeight: 5, inWidth: 6, outChannels: 6,
                                       kernelHeight: 3, kernelWidth: 3, strideHeight: 1, strideWidth: 1,
                                       paddingHeight: 1, paddingWidth: 1)
        let cases: [(ConvolutionGeometry, String)] = [
            (base.with { $0.groups = 4 }, "divisible"),          // 6 out channels
            (base.with { $0.groups = 3 }, "divisible"),          // 4 in channels
            (base.with { $0.groups = 0 }, "groups"),
            (base.with { $0.dilationWidth = 0 }, "dilation"),
            (base.with { $0.paddingBottom = -1 }, "negative"),
            (base.with { $0.paddingMode = .reflect; $0.paddingTop = 5 }, "reflect"),
            (base.with { $0.paddingMode = .reflect; $0.paddingRight = 6 }, "reflect"),
            (base.with { $0.paddingMode = .circular; $0.paddingLeft = 7 }, "circular"),
            (base.with { $0.dilationHeight = 4 }, "larger than the padded input"),  // extent 9 > 7
            (base.with { $0.dilationWidth = Int.max / 2 }, "exceed"),            // D·(K − 1) would overflow
        ]
        for (g, phrase) in cases {
            for kind in ConvolutionBackendKind.allCases {
                guard case .invalidGeometry? = error(kind, g) else {
                    Issue.record("\(kind) accepted \(g)")
                    continue
                }
                #expect(error(kind, g)?.description.contains(phrase) == true, "\(error(kind, g)?.description ?? "")")
            }
        }
        // Limits that PyTorch accepts: reflect padding size − 1, circular padding = size.
        #expect(error(.im2col, base.with { $0.paddingMode = .reflect; $0.paddingTop = 4; $0.paddingRight = 5 }) == nil)
        #expect(error(.im2col, base.with { $0.paddingMode = .circular; $0.paddingTop = 5 }) == nil)
    }

    @Test func symmetricInitMatchesExplicitPaddingAndMacsCountGroups() {
        let symmetric = ConvolutionGeometry(batch: 2, inChannels: 6, inHeight: 9, inWidth: 11, outChannels: 8,
                                            kernelHeight: 3, kernelWidth: 5, strideHeight: 2, strideWidth: 1,
                                            paddingHeight: 1, paddingWidth: 2)
        let explicit = ConvolutionGeometry(batch: 2, inChannels: 6, inHeight: 9, inWidth: 11, outChannels: 8,
                                           kernelHeight: 3, kernelWidth: 5, strideHeight: 2, strideWidth: 1,
                                           paddingTop: 1, paddingBottom: 1, paddingLeft: 2, paddingRight: 2)
        #expect(symmetric == explicit)
        #expect(symmetric.paddingHeight == 1 && symmetric.paddingWidth == 2)
        #expect(symmetric.outHeight == 5 && symmetric.outWidth == 11)
        #expect(symmetric.macsPerImage == 8 * 5 * 11 * 6 * 3 * 5)
        let grouped = symmetric.with { $0.groups = 2 }
        #expect(grouped.macsPerImage == 8 * 5 * 11 * 3 * 3 * 5)
        #expect(grouped.weightCount == 8 * 3 * 3 * 5)
        // O = ⌊(W + P_begin + P_end − D·(K − 1) − 1)/S⌋ + 1
        let dilated = explicit.with { $0.dilationHeight = 2; $0.paddingBottom = 0; $0.dilationWidth = 3 }
        #expect(dilated.outHeight == (9 + 1 + 0 - 2 * 2 - 1) / 2 + 1)
        #expect(dilated.outWidth == (11 + 4 - 3 * 4 - 1) / 1 + 1)
    }
}

extension ConvolutionGeometry {
    /// A copy changed by `change` (test shorthand).
    func with(_ change: (inout ConvolutionGeometry) -> Void) -> ConvolutionGeometry {
        var copy = self
        change(&copy)
        return copy
    }
}
