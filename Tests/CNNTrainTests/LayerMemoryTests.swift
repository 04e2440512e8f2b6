import CAllocationCounter
import CNNKernels
@testable import CNNLayers
import CNNSpec
import Testing

/// Every kind's memory statement (`ExecutableOperation.memory`) against the bytes its `makeLayer` keeps, as the
/// allocator saw them, at a few input sizes and batch capacities and on every convolution backend: at least
/// those bytes (the plan's memory estimate sums the statements and promises an upper bound), and not absurdly
/// more.
@Suite struct LayerMemoryTests {
    /// Allocator overhead per block and the layer objects' own small allocations (headers, Swift arrays).
    static let slackBytes = 16.0 * 1024
    /// How far above the allocated bytes a statement may be (Winograd's bound; a pooling's epilogue allowance).
    static let largestRatio = 2.0

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

    /// Bytes that `build` allocated on this thread and did not free, and what it built (alive until then).
    static func keptBytes<T>(_ build: () throws -> T) rethrows -> (T, Double) {
        cnnspec_count_this_thread(1)
        defer { cnnspec_count_this_thread(0) }
        let before = cnnspec_this_thread_live_bytes()
        let built = try build()
        return (built, Double(cnnspec_this_thread_live_bytes() - before))
    }

    static func expectBounds(_ stated: MemoryFootprint, _ allocated: Double, _ what: String) {
        #expect(stated.totalBytes + slackBytes >= allocated, "\(what): states \(stated.totalBytes) bytes, allocates \(allocated)")
        #expect(stated.totalBytes <= largestRatio * allocated + slackBytes,
                "\(what): states \(stated.totalBytes) bytes, allocates only \(allocated)")
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
                let (layer, allocated) = Self.keptBytes { try? operation.makeLayer(context) }
                guard layer != nil else {
                    #expect(stated == .zero, "\(node.name) on \(String(describing: backend)) is refused but states \(String(describing: stated))")
                    continue
                }
                kinds.insert(kind)
                // auto states its largest candidate and keeps the fastest: only the upper bound holds.
                if backend == .auto && node.op is Conv2dOperation {
                    let name = node.name
                    #expect(stated.totalBytes + Self.slackBytes >= allocated, "\(name) on auto")
                } else {
                    Self.expectBounds(stated, allocated, "\(node.name) (\(kind), \(String(describing: backend)), \(String(describing: input)), batch \(batch))")
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
        let (layers, allocated) = try Self.keptBytes {
            let producer = try convolution.makeLayer(convolutionContext)
            let fused = try #require(try pooling.makeFusedReLULayer(poolingContext) as? ReLUPoolingLayer)
            #expect(fused.fuseForward(into: producer))
            return (producer, fused)
        }
        _ = layers
        Self.expectBounds(stated, allocated, "conv → relu → \(pooling)")
    }
}
