@testable import CNNKernels
import Testing

/// Implicit im2col (`PatchPanels`) and the shifted lowering of plane-preserving layers against the
/// line-by-line lowering they replace.
struct PatchPanelsTests {
    /// Plane-preserving layers on 16-multiple planes (the shifted 16-column loads, whose unmasked reads
    /// reach the first and last image's edges), other planes and strides (pixel by pixel), batches
    /// whose column count is not a multiple of the 32-column panel, and depths past one KC slice.
    static let geometries: [ConvolutionGeometry] = [
        ConvolutionGeometry(batch: 3, inChannels: 5, inHeight: 4, inWidth: 4, outChannels: 9, kernelHeight: 3,
                            kernelWidth: 3, strideHeight: 1, strideWidth: 1, paddingHeight: 1, paddingWidth: 1),
        ConvolutionGeometry(batch: 2, inChannels: 40, inHeight: 8, inWidth: 8, outChannels: 17, kernelHeight: 3,
                            kernelWidth: 3, strideHeight: 1, strideWidth: 1, paddingHeight: 1, paddingWidth: 1),
        ConvolutionGeometry(batch: 2, inChannels: 3, inHeight: 16, inWidth: 16, outChannels: 8, kernelHeight: 5,
                            kernelWidth: 5, strideHeight: 1, strideWidth: 1, paddingHeight: 2, paddingWidth: 2),
        ConvolutionGeometry(batch: 3, inChannels: 4, inHeight: 5, inWidth: 7, outChannels: 6, kernelHeight: 3,
                            kernelWidth: 3, strideHeight: 1, strideWidth: 1, paddingHeight: 1, paddingWidth: 1),
        ConvolutionGeometry(batch: 2, inChannels: 6, inHeight: 9, inWidth: 8, outChannels: 5, kernelHeight: 3,
                            kernelWidth: 3, strideHeight: 2, strideWidth: 2, paddingHeight: 1, paddingWidth: 1),
        ConvolutionGeometry(batch: 2, inChannels: 3, inHeight: 8, inWidth: 8, outChannels: 4, kernelHeight: 3,
                            kernelWidth: 2, strideHeight: 1, strideWidth: 1, paddingTop: 2, paddingBottom: 0,
                            paddingLeft: 0, paddingRight: 1),
        // Stride 2 and 1×1 stride 2 on 16-multiple output planes (the gathered 16-pixel loads), odd channels.
        ConvolutionGeometry(batch: 3, inChannels: 5, inHeight: 8, inWidth: 8, outChannels: 9, kernelHeight: 3,
                            kernelWidth: 3, strideHeight: 2, strideWidth: 2, paddingHeight: 1, paddingWidth: 1),
        ConvolutionGeometry(batch: 2, inChannels: 19, inHeight: 16, inWidth: 16, outChannels: 6, kernelHeight: 3,
                            kernelWidth: 3, strideHeight: 2, strideWidth: 2, paddingHeight: 1, paddingWidth: 1),
        ConvolutionGeometry(batch: 3, inChannels: 7, inHeight: 8, inWidth: 8, outChannels: 10, kernelHeight: 1,
                            kernelWidth: 1, strideHeight: 2, strideWidth: 2, paddingHeight: 0, paddingWidth: 0),
    ]

    /// The reference lowering: one short copy per output line (the form `im2col` takes for every layer
    /// that is not plane-preserving).
    static func referenceColumns(_ g: ConvolutionGeometry, input: [Float]) -> [Float] {
        let columns = g.batch * g.outPlane
        var col = [Float](repeating: .nan, count: g.patchSize * columns)
        for n in 0..<g.batch {
            for ci in 0..<g.inChannels {
                for kh in 0..<g.kernelHeight {
                    for kw in 0..<g.kernelWidth {
                        let row = (ci * g.kernelHeight + kh) * g.kernelWidth + kw
                        for oh in 0..<g.outHeight {
                            for ow in 0..<g.outWidth {
                                let ih = oh * g.strideHeight - g.paddingTop + kh * g.dilationHeight
                                let iw = ow * g.strideWidth - g.paddingLeft + kw * g.dilationWidth
                                let inside = ih >= 0 && ih < g.inHeight && iw >= 0 && iw < g.inWidth
                                col[row * columns + n * g.outPlane + oh * g.outWidth + ow] =
                                    inside ? input[((n * g.inChannels + ci) * g.inHeight + ih) * g.inWidth + iw] : 0
                            }
                        }
                    }
                }
            }
        }
        return col
    }

    @Test(arguments: geometries)
    func im2colMatchesReference(_ g: ConvolutionGeometry) {
        var random = TestRandom(seed: 5)
        let input = random.array(g.batch * g.inputImageSize)
        let expected = PatchPanelsTests.referenceColumns(g, input: input)
        let columns = g.batch * g.outPlane
        var col = [Float](repeating: .nan, count: g.patchSize * columns)
        var image = [Float](repeating: .nan, count: g.batch * g.inputImageSize)
        var expectedImage = [Float](repeating: 0, count: g.batch * g.inputImageSize)
        input.withUnsafeBufferPointer { inputPointer in
            col.withUnsafeMutableBufferPointer { colPointer in
                for n in 0..<g.batch {
                    PatchLowering.im2col(g, image: inputPointer.baseAddress! + n * g.inputImageSize,
                                         col: colPointer.baseAddress! + n * g.outPlane, rowStride: columns)
                }
            }
        }
        #expect(col == expected)
        // col2im of the reference columns: every input pixel gathers the lowered entries it was copied to.
        let gradient = random.array(g.patchSize * columns)
        for index in expected.indices {
            let row = index / columns, column = index % columns
            let n = column / g.outPlane, pixel = column % g.outPlane
            let kw = row % g.kernelWidth, kh = row / g.kernelWidth % g.kernelHeight, ci = row / (g.kernelWidth * g.kernelHeight)
            let ih = pixel / g.outWidth * g.strideHeight - g.paddingTop + kh * g.dilationHeight
            let iw = pixel % g.outWidth * g.strideWidth - g.paddingLeft + kw * g.dilationWidth
            if ih >= 0 && ih < g.inHeight && iw >= 0 && iw < g.inWidth {
                expectedImage[((n * g.inChannels + ci) * g.inHeight + ih) * g.inWidth + iw] += gradient[index]
            }
        }
        gradient.withUnsafeBufferPointer { gradientPointer in
            image.withUnsafeMutableBufferPointer { imagePointer in
                for n in 0..<g.batch {
                    PatchLowering.col2im(g, col: gradientPointer.baseAddress! + n * g.outPlane, rowStride: columns,
                                         image: imagePointer.baseAddress! + n * g.inputImageSize)
                }
            }
        }
        var worst: Float = 0
        for (got, want) in zip(image, expectedImage) { worst = max(worst, abs(got - want)) }
        #expect(worst < 1e-5, "col2im error \(worst)")
    }

    /// W · col with col's panels packed from the images equals W · (stored col) bit for bit (the packed
    /// panels are the same), on one and two threads (two: the second thread's columns start mid-panel-set).
    @Test(arguments: [1, 2], KernelTarget.allCases)
    func implicitProductMatchesStoredColumns(threads: Int, target: KernelTarget) {
        let gemm = GEMM(pool: ThreadPool(threadCount: threads), target: target)
        var random = TestRandom(seed: 9)
        for g in PatchPanelsTests.geometries {
            let input = random.array(g.batch * g.inputImageSize)
            let weight = random.array(g.outChannels * g.patchSize)
            let col = PatchPanelsTests.referenceColumns(g, input: input)
            let columns = g.batch * g.outPlane
            let sources = UnsafeMutablePointer<Int32>.allocate(capacity: PatchPanels.sourceCount(g))
            defer { sources.deallocate() }
            PatchPanels.fillSourceTable(g, into: sources)
            var stored = [Float](repeating: .nan, count: g.outChannels * columns)
            var implicit = stored
            for depth in [g.patchSize, min(g.patchSize, 7)] {
                weight.withUnsafeBufferPointer { w in
                    col.withUnsafeBufferPointer { c in
                        stored.withUnsafeMutableBufferPointer { out in
                            gemm.multiply(m: g.outChannels, n: columns, k: depth, a: w.baseAddress!, lda: g.patchSize,
                                          transposeA: false, b: c.baseAddress!, ldb: columns, transposeB: false,
                                          c: out.baseAddress!, ldc: columns)
                        }
                    }
                    input.withUnsafeBufferPointer { images in
                        implicit.withUnsafeMutableBufferPointer { out in
                            let patches = PatchPanels(geometry: g, images: images.baseAddress!, count: g.batch,
                                                      firstColumn: 0, sources: sources, transposed: false)
                            gemm.multiply(m: g.outChannels, n: columns, k: depth, a: w.baseAddress!, lda: g.patchSize,
                                          transposeA: false, b: .patches(patches), c: out.baseAddress!, ldc: columns)
                        }
                    }
                }
                #expect(implicit == stored, "\(g) depth \(depth)")
            }
        }
    }

    /// G · colᵀ with colᵀ's panels packed from the images equals G · (stored col)ᵀ bit for bit, including
    /// depths (pixels) that end mid-16-block and a second thread whose columns (col rows) start mid-panel.
    @Test(arguments: [1, 2], KernelTarget.allCases)
    func implicitTransposedProductMatchesStoredColumns(threads: Int, target: KernelTarget) {
        let gemm = GEMM(pool: ThreadPool(threadCount: threads), target: target)
        var random = TestRandom(seed: 10)
        for g in PatchPanelsTests.geometries {
            let input = random.array(g.batch * g.inputImageSize)
            let columns = g.batch * g.outPlane
            let gradient = random.array(g.outChannels * columns)
            let col = PatchPanelsTests.referenceColumns(g, input: input)
            let sources = UnsafeMutablePointer<Int32>.allocate(capacity: PatchPanels.sourceCount(g))
            defer { sources.deallocate() }
            PatchPanels.fillSourceTable(g, into: sources)
            var stored = [Float](repeating: .nan, count: g.outChannels * g.patchSize)
            var implicit = stored
            for depth in [columns, columns - 5] {
                gradient.withUnsafeBufferPointer { a in
                    col.withUnsafeBufferPointer { c in
                        stored.withUnsafeMutableBufferPointer { out in
                            gemm.multiply(m: g.outChannels, n: g.patchSize, k: depth, a: a.baseAddress!, lda: columns,
                                          transposeA: false, b: c.baseAddress!, ldb: columns, transposeB: true,
                                          c: out.baseAddress!, ldc: g.patchSize)
                        }
                    }
                    input.withUnsafeBufferPointer { images in
                        implicit.withUnsafeMutableBufferPointer { out in
                            let patches = PatchPanels(geometry: g, images: images.baseAddress!, count: g.batch,
                                                      firstColumn: 0, sources: sources, transposed: true)
                            gemm.multiply(m: g.outChannels, n: g.patchSize, k: depth, a: a.baseAddress!, lda: columns,
                                          transposeA: false, b: .patches(patches), c: out.baseAddress!, ldc: g.patchSize)
                        }
                    }
                }
                #expect(implicit == stored, "\(g) depth \(depth)")
            }
        }
    }

    /// The batched backend (implicit forward and weight gradient; the transposed convolution as the data
    /// gradient of plane-preserving layers) against the per-image im2col backend: several chunks with a
    /// partial last one, a 5×5 kernel, and a stride-2 layer (the data gradient's col2im path).
    @Test func batchedBackendMatchesPerImageIm2col() {
        let gemm = GEMM(pool: ThreadPool(threadCount: 2))
        var random = TestRandom(seed: 21)
        let geometries = [
            ConvolutionGeometry(batch: 6, inChannels: 3, inHeight: 16, inWidth: 16, outChannels: 5, kernelHeight: 3,
                                kernelWidth: 3, strideHeight: 1, strideWidth: 1, paddingHeight: 1, paddingWidth: 1),
            ConvolutionGeometry(batch: 3, inChannels: 8, inHeight: 4, inWidth: 4, outChannels: 8, kernelHeight: 3,
                                kernelWidth: 3, strideHeight: 1, strideWidth: 1, paddingHeight: 1, paddingWidth: 1),
            ConvolutionGeometry(batch: 2, inChannels: 4, inHeight: 8, inWidth: 8, outChannels: 6, kernelHeight: 5,
                                kernelWidth: 5, strideHeight: 1, strideWidth: 1, paddingHeight: 2, paddingWidth: 2),
            ConvolutionGeometry(batch: 3, inChannels: 4, inHeight: 8, inWidth: 8, outChannels: 6, kernelHeight: 3,
                                kernelWidth: 3, strideHeight: 2, strideWidth: 2, paddingHeight: 1, paddingWidth: 1),
            // The GEMM writing NCHW straight (16-multiple planes): 17 output channels (a partial 8-row
            // tile), 16-pixel planes whose 32-column tiles span two images, an odd batch (a partial last
            // tile), stride 2 (gathered panels) and the 1×1 stride-2 downsample.
            ConvolutionGeometry(batch: 5, inChannels: 19, inHeight: 8, inWidth: 8, outChannels: 17, kernelHeight: 3,
                                kernelWidth: 3, strideHeight: 1, strideWidth: 1, paddingHeight: 1, paddingWidth: 1),
            ConvolutionGeometry(batch: 3, inChannels: 21, inHeight: 4, inWidth: 4, outChannels: 18, kernelHeight: 3,
                                kernelWidth: 3, strideHeight: 1, strideWidth: 1, paddingHeight: 1, paddingWidth: 1),
            ConvolutionGeometry(batch: 7, inChannels: 13, inHeight: 16, inWidth: 16, outChannels: 20, kernelHeight: 3,
                                kernelWidth: 3, strideHeight: 2, strideWidth: 2, paddingHeight: 1, paddingWidth: 1),
            ConvolutionGeometry(batch: 5, inChannels: 11, inHeight: 8, inWidth: 8, outChannels: 9, kernelHeight: 1,
                                kernelWidth: 1, strideHeight: 2, strideWidth: 2, paddingHeight: 0, paddingWidth: 0),
        ]
        for (index, g) in geometries.enumerated() {
            #expect(BatchedIm2ColConvolution.prefers(g))
            let batched = ConvolutionRun(kernel: BatchedIm2ColConvolution(geometry: g, gemm: gemm))
            let perImage = ConvolutionRun(kernel: Im2ColConvolution(geometry: g, gemm: gemm))
            let input = random.array(g.batch * g.inputImageSize), weight = random.array(g.weightCount)
            let bias = random.array(g.outChannels), gradOutput = random.array(g.batch * g.outputImageSize)
            func worst(_ a: [Float], _ b: [Float]) -> Float {
                zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1) / (1 + abs($1.1))) }
            }
            let withBias = index % 2 == 0 ? bias : nil
            let forward = worst(batched.forward(batch: g.batch, input: input, weight: weight, bias: withBias),
                                perImage.forward(batch: g.batch, input: input, weight: weight, bias: withBias))
            let data = worst(batched.backwardData(batch: g.batch, gradOutput: gradOutput, weight: weight),
                             perImage.backwardData(batch: g.batch, gradOutput: gradOutput, weight: weight))
            let gradients = (batched.backwardWeights(batch: g.batch, input: input, gradOutput: gradOutput),
                             perImage.backwardWeights(batch: g.batch, input: input, gradOutput: gradOutput))
            let weights = worst(gradients.0.weight, gradients.1.weight)
            #expect(forward < 1e-5 && data < 1e-5 && weights < 1e-5, "\(g): \(forward) \(data) \(weights)")
        }
    }
}
