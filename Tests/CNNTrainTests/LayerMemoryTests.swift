import CAllocationCounter
@testable import CNNKernels
@testable import CNNLayers
import CNNSpec
import Testing

/// Checks a memory statement (`MemoryFootprint`, made before anything is allocated) against the bytes the
/// build it describes keeps, as the allocator saw them on this thread (`cnnspec_this_thread_live_bytes`):
/// at least those bytes — the plan's memory estimate sums the statements and promises an upper bound — and
/// not absurdly more.
enum MemoryStatementCheck {
    /// Allocator overhead per block and the objects' own small allocations (headers, Swift arrays, the Swift
    /// runtime's caches filled on first use).
    static let slackBytes = 16.0 * 1024
    /// glibc maps large blocks (128 KiB and more) whole pages at a time: at most 4 KiB more on each, 3 %.
    static let pageRounding = 0.04
    /// How far above the allocated bytes a statement may be: an upper bound, not a guess (Winograd's, which
    /// sizes its bands from the larger of input and output, is the loosest; then a pooling's epilogue allowance).
    static let largestRatio = 2.0

    /// Bytes that `build` allocated on this thread and did not free, and what it built (alive until then).
    static func keptBytes<T>(_ build: () throws -> T) rethrows -> (T, Double) {
        cnnspec_count_this_thread(1)
        defer { cnnspec_count_this_thread(0) }
        let before = cnnspec_this_thread_live_bytes()
        let built = try build()
        return (built, Double(cnnspec_this_thread_live_bytes() - before))
    }

    /// The statement covers the allocation and is at most `largestRatio` times it.
    static func expectBounds(_ stated: MemoryFootprint, _ allocated: Double, _ what: String) {
        expectCovers(stated, allocated, what)
        #expect(stated.totalBytes <= largestRatio * allocated + slackBytes,
                "\(what): states \(stated.totalBytes) bytes, allocates only \(allocated)")
    }

    /// The statement covers the allocation (an upper bound over several candidates, as auto's).
    static func expectCovers(_ stated: MemoryFootprint, _ allocated: Double, _ what: String) {
        #expect(stated.totalBytes * (1 + pageRounding) + slackBytes >= allocated,
                "\(what): states \(stated.totalBytes) bytes, allocates \(allocated)")
    }
}

/// Every kind's memory statement (`ExecutableOperation.memory`) against the bytes its `makeLayer` keeps, as the
/// allocator saw them, at a few input sizes and batch capacities and on every convolution backend: at least
/// those bytes (the plan's memory estimate sums the statements and promises an upper bound), and not absurdly
/// more.
@Suite struct LayerMemoryTests {
    /// Buffers a layer is wired to: each node's output and gradient at the batch capacity.
    final class Buffers {
        let outputs: [AlignedBuffer<Float>]
        let gradients: [AlignedBuffer<Float>]
        init(_ graph: ModelGraph, batch: Int) {
            outputs = graph.nodes.map { AlignedBuffer(count: batch * $0.outputShape.elementCount) }
            gradients = graph.nodes.map { AlignedBuffer(count: batch * $0.outputShape.elementCount) }
        }

        func wiring(_ graph: ModelGraph, _ index: Int, inputs: [Int]) -> LayerWiring {
            LayerWiring(inputs: inputs.map { outputs[$0].pointer }, inputShapes: inputs.map { graph.nodes[$0].outputShape },
                        output: outputs[index].pointer, outputShape: graph.nodes[index].outputShape,
                        outputGradient: gradients[index].pointer, inputGradients: inputs.map { gradients[$0].pointer })
        }
    }

    @Test(arguments: [(TensorShape.image(channels: 3, height: 12, width: 12), 2), (.image(channels: 3, height: 20, width: 20), 33)])
    func everyKindStatesWhatItAllocates(input: TensorShape, batch: Int) throws {
        let graph = try ModelSpecLoader.load(yaml: AllKindsGradientTests.allKinds, catalog: .standard, inputOverride: input)
        let pool = ThreadPool(threadCount: 2)
        let parameters = ParameterStore(graph: graph)
        let buffers = Buffers(graph, batch: batch)
        var kinds: Set<String> = []
        for (index, node) in graph.nodes.enumerated() where index > 0 {
            let kind = node.op.kindName
            let operation = try #require(node.op as? any ExecutableOperation, "\(kind) cannot run")
            let backends: [BackendRequest] = node.op is Conv2dOperation
                ? [.auto] + ConvolutionBackendKind.allCases.map { .fixed($0) } : [.auto]
            for backend in backends {
                let gemm = GEMM(pool: pool)  // fresh: Winograd's shared scratch is allocated again
                let context = LayerBuildContext(name: node.name, index: index, wiring: buffers.wiring(graph, index, inputs: node.inputs),
                                                batchCapacity: batch, pool: pool, gemm: gemm, seed: 1, parameters: parameters,
                                                requestedBackend: backend)
                let stated = operation.memory(context.sizing)
                let (layer, allocated) = MemoryStatementCheck.keptBytes { try? operation.makeLayer(context) }
                guard layer != nil else {
                    #expect(stated == .zero, "\(node.name) on \(String(describing: backend)) is refused but states \(String(describing: stated))")
                    continue
                }
                kinds.insert(kind)
                // auto states its largest candidate and keeps the fastest: only the upper bound holds.
                if backend == .auto && node.op is Conv2dOperation {
                    MemoryStatementCheck.expectCovers(stated, allocated, "\(node.name) on auto")
                } else {
                    MemoryStatementCheck.expectBounds(stated, allocated, "\(node.name) (\(kind), \(String(describing: backend)), \(String(describing: input)), batch \(batch))")
                }
            }
        }
        for definition in LayerCatalog.standard.definitions where definition.name != "input" {
            #expect(kinds.contains(definition.name), "\(definition.name) is not measured")
        }
    }

    /// ReLU → pool fused into a direct convolution's epilogue: the pooling's statement covers the fused layer
    /// and the epilogue it hands the convolution.
    @Test(arguments: ["maxpool: 2", "avgpool: 2", "maxpool: {kernel: 3, stride: 2}"])
    func fusedPoolingStatesItsEpilogue(pooling: String) throws {
        let graph = try ModelSpecLoader.load(yaml: "input: [3, 16, 16]\nlayers:\n  - conv: {out: 8, kernel: 3, padding: 1}\n  - relu\n  - \(pooling)\n",
                                             catalog: .standard)
        let pool = ThreadPool(threadCount: 2), gemm = GEMM(pool: pool), batch = 40
        let parameters = ParameterStore(graph: graph)
        let buffers = Buffers(graph, batch: batch)
        func context(_ index: Int, inputs: [Int]) -> LayerBuildContext {
            LayerBuildContext(name: graph.nodes[index].name, index: index, wiring: buffers.wiring(graph, index, inputs: inputs),
                              batchCapacity: batch, pool: pool, gemm: gemm, seed: 1, parameters: parameters,
                              requestedBackend: .fixed(.direct))
        }
        let convolution = try #require(graph.nodes[1].op as? Conv2dOperation)
        let pooling = try #require(graph.nodes[3].op as? PoolingOperation)
        let convolutionContext = context(1, inputs: [0]), poolingContext = context(3, inputs: [1])
        let stated = convolution.memory(convolutionContext.sizing) + pooling.memory(poolingContext.sizing)
        let (layers, allocated) = try MemoryStatementCheck.keptBytes {
            let producer = try convolution.makeLayer(convolutionContext)
            let fused = try #require(try pooling.makeFusedReLULayer(poolingContext) as? ReLUPoolingLayer)
            #expect(fused.fuseForward(into: producer))
            return (producer, fused)
        }
        _ = layers
        MemoryStatementCheck.expectBounds(stated, allocated, "conv → relu → \(pooling)")
    }
}

/// Every backend's memory statement (`ConvolutionBackendKind.memory`, made before anything is allocated)
/// against the bytes building its kernel keeps, as the allocator saw them: at least those, and not absurdly
/// more. The plan's memory estimate is the sum of these statements.
@Suite struct ConvolutionMemoryTests {
    static func geometry(batch: Int, channels: (Int, Int), side: (Int, Int), kernel: Int, stride: Int = 1, padding: Int,
                         groups: Int = 1, dilation: Int = 1, mode: ConvolutionPaddingMode = .zeros) -> ConvolutionGeometry {
        ConvolutionGeometry(batch: batch, inChannels: channels.0, inHeight: side.0, inWidth: side.1, outChannels: channels.1,
                            kernelHeight: kernel, kernelWidth: kernel, strideHeight: stride, strideWidth: stride,
                            paddingHeight: padding, paddingWidth: padding, dilationHeight: dilation, dilationWidth: dilation,
                            groups: groups, paddingMode: mode)
    }

    /// A few geometries per path: lanes and stacked grids (direct), per-image and batched lowering (im2col),
    /// pointwise, strided, grouped, dilated, depthwise, 3×3 (Winograd), a padding stage, Model A's layers (Toeplitz).
    static let cases: [ConvolutionGeometry] = [
        geometry(batch: 4, channels: (1, 16), side: (28, 28), kernel: 5, padding: 2),
        geometry(batch: 4, channels: (16, 32), side: (14, 14), kernel: 5, padding: 2),
        geometry(batch: 64, channels: (8, 8), side: (8, 8), kernel: 3, padding: 1),
        geometry(batch: 16, channels: (32, 64), side: (4, 4), kernel: 3, padding: 1),
        geometry(batch: 8, channels: (16, 24), side: (12, 12), kernel: 1, padding: 0),
        geometry(batch: 6, channels: (8, 12), side: (15, 15), kernel: 3, stride: 2, padding: 1),
        geometry(batch: 5, channels: (8, 8), side: (10, 10), kernel: 3, padding: 1, groups: 8),
        geometry(batch: 5, channels: (8, 16), side: (10, 10), kernel: 3, padding: 2, groups: 8, dilation: 2),
        geometry(batch: 3, channels: (6, 9), side: (9, 7), kernel: 3, padding: 1, groups: 3),
        geometry(batch: 4, channels: (4, 8), side: (9, 9), kernel: 3, padding: 1, mode: .reflect),
    ]

    @Test(arguments: ConvolutionBackendKind.allCases)
    func statementBoundsWhatTheBuildAllocates(_ kind: ConvolutionBackendKind) throws {
        var built = 0
        for g in Self.cases {
            let gemm = GEMM(pool: ThreadPool(threadCount: 2))  // fresh: Winograd's shared scratch is allocated again
            let stated = kind.memory(geometry: g, threads: gemm.slotCount)
            let (kernel, allocated) = MemoryStatementCheck.keptBytes { try? makeConvolution(kind, geometry: g, gemm: gemm) }
            guard let kernel else {
                #expect(stated == nil, "\(kind) refuses \(g) but states \(String(describing: stated))")
                continue
            }
            let statement = try #require(stated, "\(kind) builds \(g) but states nothing")
            built += 1
            #expect(allocated > 0 && kernel.kind == kind)
            MemoryStatementCheck.expectBounds(statement, allocated, "\(kind) \(g)")
        }
        #expect(built >= 2, "\(kind) must build some of the cases")
    }

    /// What a statement counts as kept from step to step: Toeplitz's matrix, Winograd's U and U'.
    @Test func persistentBytesAreTheKeptWeights() throws {
        let modelA = Self.cases[1]
        let toeplitz = try #require(ConvolutionBackendKind.toeplitz.memory(geometry: modelA, threads: 2))
        #expect(toeplitz.persistentBytes == 4 * Double(modelA.outputImageSize * modelA.inputImageSize))
        let threeByThree = Self.cases[2]
        let winograd = try #require(ConvolutionBackendKind.winograd.memory(geometry: threeByThree, threads: 2))
        #expect(winograd.persistentBytes == 4 * WinogradConvolution.transformedWeightFloats(threeByThree))
        #expect(ConvolutionBackendKind.winograd.memory(geometry: modelA, threads: 2) == nil, "5×5 is refused")
        #expect(ConvolutionBackendKind.im2col.memory(geometry: modelA, threads: 2)?.persistentBytes == 0)
    }
}
