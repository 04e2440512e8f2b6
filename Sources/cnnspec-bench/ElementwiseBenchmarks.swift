import CNNKernels
import Foundation

/// Benchmarks of the non-GEMM kernels at Model A sizes (batch 100: conv1 output 100×16×28×28,
/// conv2 output 100×32×14×14, 10 classes, 28 938 parameters), 2 threads. GB/s counts every
/// tensor the kernel must read or write once (the minimum traffic), over the median time.
enum ElementwiseBenchmarks {
    static let suite = BenchmarkSuite(name: "elementwise", summary: "pooling, ReLU, softmax cross-entropy, optimizer updates at Model A sizes (GB/s)") { runAll() }

    private static let batch = 100
    private static let modelAParameters = 16 * 25 + 16 + 32 * 16 * 25 + 32 + 32 * 7 * 7 * 10 + 10

    /// A float buffer of `count` random values in [−1, 1), reused across repetitions.
    private final class Buffer {
        let floats: UnsafeMutablePointer<Float>
        let count: Int
        init(_ count: Int, seed: UInt64) {
            self.count = count
            floats = .allocate(capacity: count)
            var generator = SeededGenerator(seed: seed)
            for index in 0..<count { floats[index] = Float.random(in: -1..<1, using: &generator) }
        }
        deinit { floats.deallocate() }
        var read: UnsafePointer<Float> { UnsafePointer(floats) }
    }

    private static func measure(_ name: String, shape: String, bytes: Int, reps: Int = 41, _ body: () -> Void) {
        body()
        var times: [Double] = []
        for _ in 0..<reps {
            let start = DispatchTime.now().uptimeNanoseconds
            body()
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        let median = times.sorted()[reps / 2]
        let gbps = Double(bytes) / median / 1e9
        print(name.padding(toLength: 34, withPad: " ", startingAt: 0) + "| " + shape.padding(toLength: 16, withPad: " ", startingAt: 0)
              + "| " + String(format: "%9.1f µs | %6.1f GB/s", median * 1e6, gbps))
    }

    private static func runAll() {
        let pool = ThreadPool(threadCount: BenchmarkTiming.threads)
        print("kernel                            | shape           |    median |  effective")
        print("----------------------------------|-----------------|-----------|-----------")
        for (channels, side) in [(16, 28), (32, 14)] {
            let g = PoolingGeometry(channels: channels, inHeight: side, inWidth: side, kernelHeight: 2, kernelWidth: 2,
                                    strideHeight: 2, strideWidth: 2, paddingHeight: 0, paddingWidth: 0)
            let inCount = batch * channels * side * side, outCount = inCount / 4
            let shape = "100×\(channels)×\(side)×\(side)"
            let input = Buffer(inCount, seed: 1), output = Buffer(outCount, seed: 2), gradIn = Buffer(inCount, seed: 3)
            let argmax = UnsafeMutablePointer<Int32>.allocate(capacity: outCount)
            defer { argmax.deallocate() }
            measure("max-pool 2×2/s2 forward", shape: shape, bytes: 4 * (inCount + 2 * outCount)) {
                MaxPooling.forward(g, batch: batch, input: input.read, output: output.floats, argmax: argmax, pool: pool)
            }
            measure("max-pool 2×2/s2 backward", shape: shape, bytes: 4 * (inCount + 2 * outCount)) {
                MaxPooling.backward(g, batch: batch, gradOutput: output.read, argmax: argmax, gradInput: gradIn.floats, pool: pool)
            }
            measure("avg-pool 2×2/s2 forward", shape: shape, bytes: 4 * (inCount + outCount)) {
                AveragePooling.forward(g, batch: batch, countIncludePad: true, input: input.read, output: output.floats, pool: pool)
            }
            measure("avg-pool 2×2/s2 backward", shape: shape, bytes: 4 * (inCount + outCount)) {
                AveragePooling.backward(g, batch: batch, countIncludePad: true, gradOutput: output.read, gradInput: gradIn.floats, pool: pool)
            }
        }
        let g3 = PoolingGeometry(channels: 16, inHeight: 28, inWidth: 28, kernelHeight: 3, kernelWidth: 3,
                                 strideHeight: 2, strideWidth: 2, paddingHeight: 1, paddingWidth: 1)
        do {
            let inCount = batch * 16 * 28 * 28, outCount = batch * 16 * g3.outHeight * g3.outWidth
            let input = Buffer(inCount, seed: 1), output = Buffer(outCount, seed: 2), gradIn = Buffer(inCount, seed: 3)
            let argmax = UnsafeMutablePointer<Int32>.allocate(capacity: outCount)
            defer { argmax.deallocate() }
            measure("max-pool 3×3/s2/p1 forward (generic)", shape: "100×16×28×28", bytes: 4 * (inCount + 2 * outCount)) {
                MaxPooling.forward(g3, batch: batch, input: input.read, output: output.floats, argmax: argmax, pool: pool)
            }
            measure("max-pool 3×3/s2/p1 backward (generic)", shape: "100×16×28×28", bytes: 4 * (inCount + 2 * outCount)) {
                MaxPooling.backward(g3, batch: batch, gradOutput: output.read, argmax: argmax, gradInput: gradIn.floats, pool: pool)
            }
        }
        let count = batch * 16 * 28 * 28
        let x = Buffer(count, seed: 4), y = Buffer(count, seed: 5), dy = Buffer(count, seed: 6), dx = Buffer(count, seed: 7)
        for (name, kind) in [("ReLU", ActivationKind.relu), ("sigmoid", .sigmoid), ("tanh", .tanh)] {
            measure("\(name) forward", shape: "100×16×28×28", bytes: 8 * count) {
                Activation.forward(kind, count: count, input: x.read, output: y.floats, pool: pool)
            }
            measure("\(name) backward", shape: "100×16×28×28", bytes: 12 * count) {
                Activation.backward(kind, count: count, input: x.read, output: y.read, gradOutput: dy.read, gradInput: dx.floats, pool: pool)
            }
        }
        let channels = 16, spatial = 28 * 28
        let weight = Buffer(channels, seed: 8), bias = Buffer(channels, seed: 9)
        let runningMean = Buffer(channels, seed: 10), runningVar = Buffer(channels, seed: 11)
        let saveMean = Buffer(channels, seed: 12), saveInvStd = Buffer(channels, seed: 13)
        let gradWeight = Buffer(channels, seed: 14), gradBias = Buffer(channels, seed: 15)
        for index in 0..<channels { runningVar.floats[index] = 1 }
        measure("batch norm training forward", shape: "100×16×28×28", bytes: 8 * count) {
            BatchNorm2D.forwardTraining(batch: batch, channels: channels, spatial: spatial, eps: 1e-5, momentum: 0.1, input: x.read,
                                        weight: weight.read, bias: bias.read, runningMean: runningMean.floats, runningVar: runningVar.floats,
                                        saveMean: saveMean.floats, saveInvStd: saveInvStd.floats, output: y.floats, pool: pool)
        }
        measure("batch norm backward", shape: "100×16×28×28", bytes: 12 * count) {
            BatchNorm2D.backward(batch: batch, channels: channels, spatial: spatial, input: x.read, gradOutput: dy.read, weight: weight.read,
                                 saveMean: saveMean.read, saveInvStd: saveInvStd.read, gradInput: dx.floats, gradWeight: gradWeight.floats,
                                 gradBias: gradBias.floats, pool: pool)
        }
        measure("batch norm inference", shape: "100×16×28×28", bytes: 8 * count) {
            BatchNorm2D.forwardInference(batch: batch, channels: channels, spatial: spatial, eps: 1e-5, input: x.read, weight: weight.read,
                                         bias: bias.read, runningMean: runningMean.read, runningVar: runningVar.read, output: y.floats, pool: pool)
        }
        var generator = SeededGenerator(seed: 16)
        measure("dropout p=0.5 forward", shape: "100×16×28×28", bytes: 12 * count) {
            Dropout.forward(count: count, p: 0.5, input: x.read, output: y.floats, mask: dx.floats, generator: &generator)
        }
        let logits = Buffer(batch * 10, seed: 17), gradLogits = Buffer(batch * 10, seed: 18)
        let labels = UnsafeMutablePointer<Int32>.allocate(capacity: batch)
        defer { labels.deallocate() }
        for index in 0..<batch { labels[index] = Int32(index % 10) }
        measure("softmax cross-entropy fwd+bwd", shape: "100×10", bytes: 4 * (2 * batch * 10 + batch)) {
            _ = SoftmaxCrossEntropy.forwardBackward(batch: batch, classes: 10, logits: logits.read, labels: labels, gradLogits: gradLogits.floats)
        }
        let parameters = modelAParameters
        let parameter = Buffer(parameters, seed: 19), gradient = Buffer(parameters, seed: 20)
        let first = Buffer(parameters, seed: 21), second = Buffer(parameters, seed: 22)
        for index in 0..<parameters { second.floats[index] = abs(second.floats[index]) }
        measure("SGD momentum+wd step", shape: "\(parameters) params", bytes: 4 * 5 * parameters, reps: 201) {
            SGDUpdate.step(count: parameters, parameter: parameter.floats, gradient: gradient.read, momentumBuffer: first.floats,
                           isFirstStep: false, learningRate: 1e-6, momentum: 0.9, dampening: 0, nesterov: false, weightDecay: 1e-4)
        }
        measure("Adam step", shape: "\(parameters) params", bytes: 4 * 7 * parameters, reps: 201) {
            AdamUpdate.step(count: parameters, parameter: parameter.floats, gradient: gradient.read, firstMoment: first.floats,
                            secondMoment: second.floats, step: 10, learningRate: 1e-6, beta1: 0.9, beta2: 0.999, epsilon: 1e-8,
                            weightDecay: 0, decoupledWeightDecay: false)
        }
    }
}
