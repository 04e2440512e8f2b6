import CNNKernels
import CNNSpec
import Foundation

/// Per-layer and whole-step timings of a plan, in the spirit of `caffe time`.
public struct TimingReport: Sendable {
    public struct Layer: Sendable {
        public var name: String
        public var kind: String
        public var backend: String?
        public var forwardMilliseconds: Double
        public var backwardMilliseconds: Double
    }

    public var batch: Int
    public var threads: Int
    public var iterations: Int
    public var layers: [Layer]
    /// Median wall time of a whole training step (forward, loss, backward, optimizer update).
    public var trainStepMilliseconds: Double
    /// Median wall time of an inference forward pass.
    public var inferenceMilliseconds: Double
    /// Heap allocations per steady-state training step (nil where they cannot be counted).
    public var allocationsPerStep: Double?
    /// Multiply-adds of one image's forward pass (conv and linear layers).
    public var macsPerImage: Int = 0
    /// The plan's fusions ("relu1 → maxpool1", …), nil when fusion is off.
    public var fusions: [String]? = nil
    /// Bytes of the plan's activation and gradient buffers at this batch.
    public var activationBytes = 0
    public var gradientBytes = 0
    /// Bytes of an inference plan's activation buffers at this batch (`PlannedActivationMemory`).
    public var inferenceActivationBytes = 0

    /// The machine's FMA peak on the plan's threads (`FMAPeak`), measured in the same run; nil when not measured.
    public var peakGigaflops: Double? = nil

    /// Training FLOP/s counted as 3 × the forward's 2·MACs (forward, input gradient, weight gradient).
    public var trainGigaflopsPerSecond: Double { 6 * Double(macsPerImage) * trainImagesPerSecond / 1e9 }

    public var trainImagesPerSecond: Double { Double(batch) / trainStepMilliseconds * 1000 }
    public var inferenceImagesPerSecond: Double { Double(batch) / inferenceMilliseconds * 1000 }

    /// A fixed-width table followed by the whole-step figures.
    public func render() -> String {
        var lines = ["layer                 kind          backend     forward ms  backward ms"]
        for layer in layers {
            lines.append(layer.name.padding(toLength: 22, withPad: " ", startingAt: 0)
                + layer.kind.padding(toLength: 14, withPad: " ", startingAt: 0)
                + (layer.backend ?? "").padding(toLength: 10, withPad: " ", startingAt: 0)
                + String(format: "%11.3f  %11.3f", layer.forwardMilliseconds, layer.backwardMilliseconds))
        }
        let forward = layers.reduce(0) { $0 + $1.forwardMilliseconds }
        let backward = layers.reduce(0) { $0 + $1.backwardMilliseconds }
        lines.append("total (layers)".padding(toLength: 46, withPad: " ", startingAt: 0)
            + String(format: "%11.3f  %11.3f", forward, backward))
        lines.append("")
        lines.append(String(format: "training step:  %.3f ms median, %.0f images/s (batch %d, ", trainStepMilliseconds,
                            trainImagesPerSecond, batch) + English.count(threads, "thread") + ")")
        lines.append(String(format: "inference:      %.3f ms median, %.0f images/s", inferenceMilliseconds, inferenceImagesPerSecond))
        if macsPerImage > 0 {
            var rate = String(format: "training FLOP rate: %.1f GFLOP/s (3 × 2 × %ld MACs per image)",
                              trainGigaflopsPerSecond, macsPerImage)
            if let peak = peakGigaflops, peak > 0 {
                rate += String(format: " = %.0f %% of this machine's FMA peak, %.1f GFLOP/s on ", 100 * trainGigaflopsPerSecond / peak, peak)
                    + English.count(threads, "thread") + " (\(FMAPeak.isa.rawValue), measured now)"
            }
            lines.append(rate)
        }
        let mib = { (bytes: Int) in String(format: "%.1f MiB", Double(bytes) / 1_048_576) }
        lines.append("activation memory (batch \(batch)): training \(mib(activationBytes + gradientBytes)) "
            + "(activations \(mib(activationBytes)), gradients \(mib(gradientBytes))), "
            + "inference \(mib(inferenceActivationBytes)) (buffers reused)")
        if let fusions {
            lines.append("fused: " + (fusions.isEmpty ? "nothing to fuse" : fusions.joined(separator: ", ")))
        } else {
            lines.append("fused: off (train.fuse: false)")
        }
        if let allocations = allocationsPerStep {
            lines.append(String(format: "allocations per training step (steady state): %.1f", allocations))
        } else {
            lines.append("allocations per training step: not counted on this platform")
        }
        return lines.joined(separator: "\n")
    }
}

/// Measures a plan on random data of its input shape.
public enum StepTimer {
    /// Runs `warmup` steps, then `iterations` profiled training steps and as many inference passes.
    /// `allocationCount`, when given, reads the process's allocation counter.
    public static func measure(plan: ExecutionPlan, update: ParameterUpdate, batch: Int, warmup: Int, iterations: Int,
                               allocationCount: (() -> UInt64)? = nil) -> TimingReport {
        var generator = SeededGenerator(seed: 7)
        let inputCount = batch * plan.graph.inputShape.elementCount
        for index in 0..<inputCount { plan.input[index] = Float.random(in: 0..<1, using: &generator) }
        let labels = AlignedBuffer<Int32>(count: batch)
        for index in 0..<batch { labels.pointer[index] = Int32.random(in: 0..<Int32(plan.classCount), using: &generator) }
        var stepSamples = [Double](repeating: 0, count: iterations)
        var inferenceSamples = [Double](repeating: 0, count: iterations)

        func trainStep() {
            _ = plan.trainStep(batch: batch, labels: labels.pointer)
            update.step(learningRate: 1e-4)
        }
        for _ in 0..<warmup { trainStep() }
        let allocationsBefore = allocationCount?()
        for index in 0..<iterations {
            let start = DispatchTime.now().uptimeNanoseconds
            trainStep()
            stepSamples[index] = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
        }
        let allocationsAfter = allocationCount?()
        plan.resetProfile()
        plan.isProfiling = true
        for _ in 0..<iterations { trainStep() }
        plan.isProfiling = false
        for index in 0..<iterations {
            let start = DispatchTime.now().uptimeNanoseconds
            _ = plan.evaluate(batch: batch, labels: labels.pointer)
            inferenceSamples[index] = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
        }
        let backends = Dictionary(plan.backendSelections.map { ($0.layer, $0.chosen.rawValue) }, uniquingKeysWith: { a, _ in a })
        let layers = plan.graph.nodes.enumerated().dropFirst().map { index, node in
            TimingReport.Layer(name: node.name, kind: node.op.kindName,
                               backend: plan.isFusedAway(index) ? "(fused)" : backends[node.name],
                               forwardMilliseconds: Double(plan.forwardNanoseconds[index]) / 1e6 / Double(iterations),
                               backwardMilliseconds: Double(plan.backwardNanoseconds[index]) / 1e6 / Double(iterations))
        }
        var allocations: Double?
        if let before = allocationsBefore, let after = allocationsAfter, after > 0 {
            allocations = Double(after - before) / Double(max(1, iterations))
        }
        var report = TimingReport(batch: batch, threads: plan.pool.threadCount, iterations: iterations, layers: layers,
                                  trainStepMilliseconds: median(stepSamples), inferenceMilliseconds: median(inferenceSamples),
                                  allocationsPerStep: allocations)
        report.macsPerImage = plan.graph.nodes.reduce(0) { $0 + $1.macs }
        report.peakGigaflops = FMAPeak.gigaflops(on: plan.pool)
        report.fusions = plan.isFused ? plan.fusions : nil
        report.activationBytes = plan.activationBytes
        report.gradientBytes = plan.gradientBytes
        report.inferenceActivationBytes = batch * PlannedActivationMemory(graph: plan.graph, fuse: plan.isFused).inferenceBytesPerImage
        return report
    }

    static func median(_ values: [Double]) -> Double {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted()
        return sorted[sorted.count / 2]
    }
}
