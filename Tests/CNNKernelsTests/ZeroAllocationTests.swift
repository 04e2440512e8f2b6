import CAllocationCounter
@testable import CNNKernels
import Foundation
import Synchronization
import Testing

/// Steady-state kernel calls at sizes that thread (2-thread pool) make no heap allocation.
///
/// Only the allocations of this test's thread and of its pool's workers are counted
/// (`cnnspec_count_this_thread`), so other suites allocating concurrently cannot disturb the count:
/// the check is exact and deterministic. Serialized so these loops don't share the counter.
@Suite(.serialized) struct ZeroAllocationTests {
    private static let iterations = 20
    /// Tasks of the enrolment job that have started (a barrier: each task waits for all of them).
    private static let arrived = Atomic<Int>(0)

    /// Turns counting on or off on the calling thread and on every worker of `pool`: a job of
    /// `threadCount` tasks whose tasks wait for each other, so each runs on a different thread.
    private func count(_ on: Bool, on pool: ThreadPool) {
        Self.arrived.store(0, ordering: .sequentiallyConsistent)
        struct Enrolment { let on: Int32; let threads: Int }
        pool.run(tasks: pool.threadCount, context: Enrolment(on: on ? 1 : 0, threads: pool.threadCount)) { raw, _ in
            let job = raw.load(as: Enrolment.self)
            cnnspec_count_this_thread(job.on)
            ZeroAllocationTests.arrived.add(1, ordering: .sequentiallyConsistent)
            while ZeroAllocationTests.arrived.load(ordering: .sequentiallyConsistent) < job.threads { sched_yield() }
        }
        cnnspec_count_this_thread(on ? 1 : 0)
    }

    /// Allocations made by this thread and `pool`'s workers over `iterations` calls of `body`, after a
    /// warm-up; also checks that the loop actually spread jobs over `pool`'s workers.
    private func steadyStateAllocations(_ pool: ThreadPool, _ body: () -> Void) -> UInt64 {
        for _ in 0..<3 { body() }
        let jobsBefore = pool.parallelJobs
        count(true, on: pool)
        let before = cnnspec_counted_allocation_count()
        for _ in 0..<Self.iterations { body() }
        let allocations = cnnspec_counted_allocation_count() &- before
        count(false, on: pool)
        #expect(pool.parallelJobs - jobsBefore >= Self.iterations, "the sizes must use the pool's workers")
        return allocations
    }

    /// A float buffer of random values in [−1, 1), freed by `deinit`.
    private final class Buffer {
        let pointer: UnsafeMutablePointer<Float>
        init(_ count: Int, seed: UInt64 = 1) {
            pointer = .allocate(capacity: count)
            var random = TestRandom(seed: seed)
            for index in 0..<count { pointer[index] = random.uniform() }
        }
        deinit { pointer.deallocate() }
        var read: UnsafePointer<Float> { UnsafePointer(pointer) }
    }

    @Test func poolJobsWithContextDoNotAllocate() {
        struct Counters { let values: UnsafeMutablePointer<Int> }
        let pool = ThreadPool(threadCount: 2)
        let values = UnsafeMutablePointer<Int>.allocate(capacity: 64)
        values.initialize(repeating: 0, count: 64)
        defer { values.deallocate() }
        let context = Counters(values: values)
        #expect(steadyStateAllocations(pool) {
            pool.run(tasks: 2, context: context) { raw, index in raw.load(as: Counters.self).values[index] += 1 }
            pool.parallelFor(64, context: context) { raw, start, end in
                for index in start..<end { raw.load(as: Counters.self).values[index] += 1 }
            }
            pool.forEachPart(of: 64, parts: 2, context: context) { raw, _, start, end in
                for index in start..<end { raw.load(as: Counters.self).values[index] += 1 }
            }
        } == 0)
    }

    @Test func reluForwardAndBackwardDoNotAllocate() {
        let pool = ThreadPool(threadCount: 2)
        let count = 4 * 16 * 32 * 32
        let input = Buffer(count), output = Buffer(count), gradOutput = Buffer(count, seed: 2), gradInput = Buffer(count)
        #expect(steadyStateAllocations(pool) {
            Activation.forward(.relu, count: count, input: input.read, output: output.pointer, pool: pool)
            Activation.backward(.relu, count: count, input: input.read, output: output.read, gradOutput: gradOutput.read,
                                gradInput: gradInput.pointer, pool: pool)
        } == 0)
    }

    @Test func maxPoolingForwardAndBackwardDoNotAllocate() {
        let pool = ThreadPool(threadCount: 2)
        let g = PoolingGeometry(channels: 16, inHeight: 28, inWidth: 28, kernelHeight: 2, kernelWidth: 2,
                                strideHeight: 2, strideWidth: 2, paddingHeight: 0, paddingWidth: 0)
        let batch = 4, inCount = batch * 16 * 28 * 28, outCount = inCount / 4
        let input = Buffer(inCount), output = Buffer(outCount), gradInput = Buffer(inCount)
        let argmax = UnsafeMutablePointer<Int32>.allocate(capacity: outCount)
        defer { argmax.deallocate() }
        #expect(steadyStateAllocations(pool) {
            MaxPooling.forward(g, batch: batch, input: input.read, output: output.pointer, argmax: argmax, pool: pool)
            MaxPooling.backward(g, batch: batch, gradOutput: output.read, argmax: argmax, gradInput: gradInput.pointer, pool: pool)
        } == 0)
    }

    @Test func batchNormForwardAndBackwardDoNotAllocate() {
        let pool = ThreadPool(threadCount: 2)
        let batch = 4, channels = 16, spatial = 28 * 28, count = batch * channels * spatial
        let input = Buffer(count), output = Buffer(count), gradOutput = Buffer(count, seed: 2), gradInput = Buffer(count)
        let weight = Buffer(channels), bias = Buffer(channels), runningMean = Buffer(channels), runningVar = Buffer(channels)
        let saveMean = Buffer(channels), saveInvStd = Buffer(channels), gradWeight = Buffer(channels), gradBias = Buffer(channels)
        for c in 0..<channels { runningVar.pointer[c] = 1 }
        #expect(steadyStateAllocations(pool) {
            BatchNorm2D.forwardTraining(batch: batch, channels: channels, spatial: spatial, eps: 1e-5, momentum: 0.1,
                                        input: input.read, weight: weight.read, bias: bias.read,
                                        runningMean: runningMean.pointer, runningVar: runningVar.pointer,
                                        saveMean: saveMean.pointer, saveInvStd: saveInvStd.pointer,
                                        output: output.pointer, pool: pool)
            BatchNorm2D.backward(batch: batch, channels: channels, spatial: spatial, input: input.read,
                                 gradOutput: gradOutput.read, weight: weight.read, saveMean: saveMean.read,
                                 saveInvStd: saveInvStd.read, gradInput: gradInput.pointer,
                                 gradWeight: gradWeight.pointer, gradBias: gradBias.pointer, pool: pool)
        } == 0)
    }

    @Test(arguments: [ActivationKind.gelu, .geluTanh, .silu, .elu(alpha: 1), .relu6, .hardswish, .hardsigmoid, .mish, .softplus(beta: 1, threshold: 20)])
    func activationKindsDoNotAllocate(kind: ActivationKind) {
        let pool = ThreadPool(threadCount: 2)
        let count = 4 * 16 * 32 * 32 + 5
        let input = Buffer(count), output = Buffer(count), gradOutput = Buffer(count, seed: 2), gradInput = Buffer(count)
        #expect(steadyStateAllocations(pool) {
            Activation.forward(kind, count: count, input: input.read, output: output.pointer, pool: pool)
            Activation.backward(kind, count: count, input: input.read, output: output.read, gradOutput: gradOutput.read,
                                gradInput: gradInput.pointer, pool: pool)
        } == 0, "\(kind)")
    }

    @Test func ceilModePoolingDoesNotAllocate() {
        let pool = ThreadPool(threadCount: 2)
        let g = PoolingGeometry(channels: 16, inHeight: 27, inWidth: 27, kernelHeight: 3, kernelWidth: 3,
                                strideHeight: 2, strideWidth: 2, paddingHeight: 1, paddingWidth: 1, ceilMode: true)
        let batch = 4, inCount = batch * 16 * 27 * 27, outCount = batch * 16 * g.outHeight * g.outWidth
        let input = Buffer(inCount), output = Buffer(outCount), gradInput = Buffer(inCount)
        let argmax = UnsafeMutablePointer<Int32>.allocate(capacity: outCount)
        defer { argmax.deallocate() }
        #expect(steadyStateAllocations(pool) {
            MaxPooling.forward(g, batch: batch, input: input.read, output: output.pointer, argmax: argmax, pool: pool)
            MaxPooling.backward(g, batch: batch, gradOutput: output.read, argmax: argmax, gradInput: gradInput.pointer, pool: pool)
            AveragePooling.forward(g, batch: batch, countIncludePad: false, input: input.read, output: output.pointer, pool: pool)
            AveragePooling.backward(g, batch: batch, countIncludePad: false, gradOutput: output.read, gradInput: gradInput.pointer,
                                    pool: pool)
        } == 0)
    }

    @Test(arguments: [(7, 7), (1, 1)])
    func adaptivePoolingDoesNotAllocate(outHeight: Int, outWidth: Int) {
        let pool = ThreadPool(threadCount: 2)
        let g = AdaptivePoolingGeometry(channels: 16, inHeight: 28, inWidth: 28, outHeight: outHeight, outWidth: outWidth)
        let batch = 4, inCount = batch * 16 * 28 * 28, outCount = batch * 16 * outHeight * outWidth
        let input = Buffer(inCount), output = Buffer(outCount), gradInput = Buffer(inCount)
        let argmax = UnsafeMutablePointer<Int32>.allocate(capacity: outCount)
        defer { argmax.deallocate() }
        #expect(steadyStateAllocations(pool) {
            AdaptiveAveragePooling.forward(g, batch: batch, input: input.read, output: output.pointer, pool: pool)
            AdaptiveAveragePooling.backward(g, batch: batch, gradOutput: output.read, gradInput: gradInput.pointer, pool: pool)
            AdaptiveMaxPooling.forward(g, batch: batch, input: input.read, output: output.pointer, argmax: argmax, pool: pool)
            AdaptiveMaxPooling.backward(g, batch: batch, gradOutput: output.read, argmax: argmax, gradInput: gradInput.pointer,
                                        pool: pool)
        } == 0)
    }

    @Test(arguments: [1, 16])
    func preluDoesNotAllocate(slopeCount: Int) {
        let pool = ThreadPool(threadCount: 2)
        let batch = 4, channels = 16, spatial = 28 * 28, count = batch * channels * spatial
        let input = Buffer(count), output = Buffer(count), gradOutput = Buffer(count, seed: 2), gradInput = Buffer(count)
        let slopes = Buffer(slopeCount), gradSlopes = Buffer(slopeCount)
        #expect(steadyStateAllocations(pool) {
            PReLU.forward(batch: batch, channels: channels, spatial: spatial, slopeCount: slopeCount, input: input.read,
                          slopes: slopes.read, output: output.pointer, pool: pool)
            PReLU.backward(batch: batch, channels: channels, spatial: spatial, slopeCount: slopeCount, input: input.read,
                           slopes: slopes.read, gradOutput: gradOutput.read, gradInput: gradInput.pointer,
                           gradSlopes: gradSlopes.pointer, pool: pool)
        } == 0)
    }

    @Test func batchNorm1DDoesNotAllocate() {
        let pool = ThreadPool(threadCount: 2)
        let batch = 64, features = 512, count = batch * features
        let input = Buffer(count), output = Buffer(count), gradOutput = Buffer(count, seed: 2), gradInput = Buffer(count)
        let weight = Buffer(features), bias = Buffer(features), runningMean = Buffer(features), runningVar = Buffer(features)
        let saveMean = Buffer(features), saveInvStd = Buffer(features), gradWeight = Buffer(features), gradBias = Buffer(features)
        for f in 0..<features { runningVar.pointer[f] = 1 }
        #expect(steadyStateAllocations(pool) {
            BatchNorm1D.forwardTraining(batch: batch, features: features, eps: 1e-5, momentum: 0.1, input: input.read,
                                        weight: weight.read, bias: bias.read, runningMean: runningMean.pointer,
                                        runningVar: runningVar.pointer, saveMean: saveMean.pointer, saveInvStd: saveInvStd.pointer,
                                        output: output.pointer, pool: pool)
            BatchNorm1D.backward(batch: batch, features: features, input: input.read, gradOutput: gradOutput.read,
                                 weight: weight.read, saveMean: saveMean.read, saveInvStd: saveInvStd.read,
                                 gradInput: gradInput.pointer, gradWeight: gradWeight.pointer, gradBias: gradBias.pointer, pool: pool)
            BatchNorm1D.forwardInference(batch: batch, features: features, eps: 1e-5, input: input.read, weight: weight.read,
                                         bias: bias.read, runningMean: runningMean.read, runningVar: runningVar.read,
                                         output: output.pointer, pool: pool)
        } == 0)
    }

    @Test func localResponseNormDoesNotAllocate() {
        let pool = ThreadPool(threadCount: 2)
        let batch = 4, channels = 16, spatial = 28 * 28, count = batch * channels * spatial
        let input = Buffer(count), output = Buffer(count), gradOutput = Buffer(count, seed: 2), gradInput = Buffer(count)
        let parameters = LocalResponseNormParameters(size: 5)
        #expect(steadyStateAllocations(pool) {
            LocalResponseNorm.forward(parameters, batch: batch, channels: channels, spatial: spatial, input: input.read,
                                      output: output.pointer, pool: pool)
            LocalResponseNorm.backward(parameters, batch: batch, channels: channels, spatial: spatial, input: input.read,
                                       gradOutput: gradOutput.read, gradInput: gradInput.pointer, pool: pool)
        } == 0)
    }

    @Test func channelwiseMultiplyDoesNotAllocate() {
        let pool = ThreadPool(threadCount: 2)
        let batch = 4, channels = 16, spatial = 28 * 28, count = batch * channels * spatial
        let input = Buffer(count), output = Buffer(count), gradOutput = Buffer(count, seed: 2), gradInput = Buffer(count)
        let gate = Buffer(batch * channels), gradGate = Buffer(batch * channels)
        #expect(steadyStateAllocations(pool) {
            ChannelwiseMultiply.forward(batch: batch, channels: channels, spatial: spatial, input: input.read, gate: gate.read,
                                        output: output.pointer, pool: pool)
            ChannelwiseMultiply.backward(batch: batch, channels: channels, spatial: spatial, input: input.read, gate: gate.read,
                                         gradOutput: gradOutput.read, gradInput: gradInput.pointer, gradGate: gradGate.pointer,
                                         pool: pool)
        } == 0)
    }

    @Test(arguments: KernelTarget.allCases)
    func threadedGEMMDoesNotAllocate(target: KernelTarget) {
        let gemm = GEMM(pool: ThreadPool(threadCount: 2), target: target)
        let m = 64, n = 128, k = 64
        let a = Buffer(m * k), b = Buffer(k * n, seed: 2), c = Buffer(m * n)
        #expect(steadyStateAllocations(gemm.pool) {
            gemm.multiply(m: m, n: n, k: k, a: a.read, lda: k, transposeA: false, b: b.read, ldb: n, transposeB: false,
                          c: c.pointer, ldc: n)
            gemm.multiply(m: n, n: m, k: k, a: b.read, lda: n, transposeA: true, b: a.read, ldb: k, transposeB: true,
                          c: c.pointer, ldc: m)
        } == 0)
    }

    @Test(arguments: KernelTarget.allCases)
    func linearForwardAndBackwardDoNotAllocate(target: KernelTarget) {
        let gemm = GEMM(pool: ThreadPool(threadCount: 2), target: target)
        let batch = 32, inFeatures = 256, outFeatures = 128
        let input = Buffer(batch * inFeatures), weight = Buffer(outFeatures * inFeatures, seed: 2), bias = Buffer(outFeatures)
        let output = Buffer(batch * outFeatures), gradInput = Buffer(batch * inFeatures)
        let gradWeight = Buffer(outFeatures * inFeatures), gradBias = Buffer(outFeatures)
        #expect(steadyStateAllocations(gemm.pool) {
            Linear.forward(batch: batch, inFeatures: inFeatures, outFeatures: outFeatures, input: input.read,
                           weight: weight.read, bias: bias.read, output: output.pointer, gemm: gemm)
            Linear.backward(batch: batch, inFeatures: inFeatures, outFeatures: outFeatures, input: input.read,
                            weight: weight.read, gradOutput: output.read, gradInput: gradInput.pointer,
                            gradWeight: gradWeight.pointer, gradBias: gradBias.pointer, gemm: gemm)
        } == 0)
    }

    @Test(arguments: ConvolutionBackendKind.allCases, KernelTarget.allCases)
    func convolutionPassesDoNotAllocate(kind: ConvolutionBackendKind, target: KernelTarget) throws {
        let batch = 4
        let g = kind == .depthwise
            ? ConvolutionGeometry(batch: batch, inChannels: 8, inHeight: 12, inWidth: 12, outChannels: 8,
                                  kernelHeight: 3, kernelWidth: 3, strideHeight: 1, strideWidth: 1,
                                  paddingHeight: 1, paddingWidth: 1, groups: 8)
            : ConvolutionGeometry(batch: batch, inChannels: 3, inHeight: 12, inWidth: 12, outChannels: 8,
                                  kernelHeight: 3, kernelWidth: 3, strideHeight: 1, strideWidth: 1,
                                  paddingHeight: 1, paddingWidth: 1)
        try checkConvolutionDoesNotAllocate(kind: kind, geometry: g, target: target)
    }

    /// The new layer options: groups + dilation + asymmetric padding, a reflect-padded layer (padding
    /// stage), and strided depthwise layers with a channel multiplier (generic and 3×3 paths).
    @Test(arguments: ConvolutionBackendKind.allCases, KernelTarget.allCases)
    func convolutionOptionsDoNotAllocate(kind: ConvolutionBackendKind, target: KernelTarget) throws {
        let geometries = [
            ConvolutionGeometry(batch: 4, inChannels: 4, inHeight: 12, inWidth: 13, outChannels: 6,
                                kernelHeight: 3, kernelWidth: 2, strideHeight: 1, strideWidth: 2,
                                paddingTop: 1, paddingBottom: 2, paddingLeft: 0, paddingRight: 1,
                                dilationHeight: 2, dilationWidth: 1, groups: 2),
            ConvolutionGeometry(batch: 4, inChannels: 3, inHeight: 12, inWidth: 12, outChannels: 6,
                                kernelHeight: 3, kernelWidth: 3, strideHeight: 1, strideWidth: 1,
                                paddingHeight: 1, paddingWidth: 1, groups: 3, paddingMode: .reflect),
            ConvolutionGeometry(batch: 4, inChannels: 4, inHeight: 13, inWidth: 13, outChannels: 8,
                                kernelHeight: 3, kernelWidth: 3, strideHeight: 2, strideWidth: 2,
                                paddingHeight: 1, paddingWidth: 1, groups: 4),
            ConvolutionGeometry(batch: 4, inChannels: 4, inHeight: 13, inWidth: 13, outChannels: 4,
                                kernelHeight: 5, kernelWidth: 5, strideHeight: 1, strideWidth: 1,
                                paddingHeight: 2, paddingWidth: 2, groups: 4),
        ]
        for g in geometries { try checkConvolutionDoesNotAllocate(kind: kind, geometry: g, target: target) }
    }

    /// prepare + forward + backwardData + backwardWeights of `kind` on `g` (skipped when the backend refuses it).
    private func checkConvolutionDoesNotAllocate(kind: ConvolutionBackendKind, geometry g: ConvolutionGeometry,
                                                 target: KernelTarget) throws {
        let gemm = GEMM(pool: ThreadPool(threadCount: 2), target: target)
        let batch = g.batch
        guard let kernel = try makeIfSupported(kind, geometry: g, gemm: gemm) else { return }
        let input = Buffer(batch * g.inputImageSize), gradInput = Buffer(batch * g.inputImageSize)
        let output = Buffer(batch * g.outputImageSize), gradOutput = Buffer(batch * g.outputImageSize, seed: 2)
        let weight = Buffer(g.outChannels * g.patchSize, seed: 3), bias = Buffer(g.outChannels)
        let gradWeight = Buffer(g.outChannels * g.patchSize), gradBias = Buffer(g.outChannels)
        #expect(steadyStateAllocations(gemm.pool) {
            kernel.prepare(weight: weight.read)
            kernel.forward(batch: batch, input: input.read, weight: weight.read, bias: bias.read, output: output.pointer)
            kernel.backwardData(batch: batch, gradOutput: gradOutput.read, weight: weight.read, gradInput: gradInput.pointer)
            kernel.backwardWeights(batch: batch, input: input.read, gradOutput: gradOutput.read,
                                   gradWeight: gradWeight.pointer, gradBias: gradBias.pointer)
        } == 0, "\(kind) \(g)")
    }

    /// The closure form of `run` is documented as allocating; this pins down that the counter sees it,
    /// so the zero readings above are meaningful.
    @Test func closureRunIsSeenAllocating() {
        let pool = ThreadPool(threadCount: 2)
        let values = UnsafeMutablePointer<Int>.allocate(capacity: 2)
        values.initialize(repeating: 0, count: 2)
        defer { values.deallocate() }
        let fewest = steadyStateAllocations(pool) { pool.run(tasks: 2) { values[$0] += 1 } }
        #expect(fewest >= UInt64(Self.iterations))
    }
}
