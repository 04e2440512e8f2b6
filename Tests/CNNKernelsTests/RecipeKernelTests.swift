import CAllocationCounter
import Testing
import CNNKernels
import PyTorchFixtures

/// RMSprop, gradient clipping and label smoothing against PyTorch's fixtures.
@Suite struct RecipeKernelTests {
    struct RMSpropCase: Sendable {
        var name: String, lr: Float, momentum: Float, centered: Bool, weightDecay: Float
    }

    /// Hyperparameters from each fixture's description (alpha 0.99, eps 1e-8 in both).
    static let rmspropCases = [
        RMSpropCase(name: "rmsprop_default", lr: 0.01, momentum: 0, centered: false, weightDecay: 0),
        RMSpropCase(name: "rmsprop_momentum_centered", lr: 0.01, momentum: 0.9, centered: true, weightDecay: 1e-4),
    ]

    @Test(arguments: rmspropCases)
    func rmspropMatchesPyTorch(_ c: RMSpropCase) throws {
        let fixture = try PyTorchFixture.load(c.name)
        let steps = fixture.config["steps"] as? Int ?? 0
        #expect(steps > 0)
        let parameter = OpsBuffer(try fixture.tensor("param_initial").data)
        let zeros = [Float](repeating: 0, count: parameter.count)
        let square = OpsBuffer(zeros), average = OpsBuffer(zeros), momentum = OpsBuffer(zeros)
        for step in 1...max(steps, 1) {
            let gradient = OpsBuffer(try fixture.tensor("grad_step\(step)").data)
            RMSpropUpdate.step(count: parameter.count, parameter: parameter.pointer, gradient: gradient.readOnly,
                               squareAverage: square.pointer, gradientAverage: average.pointer, momentumBuffer: momentum.pointer,
                               learningRate: c.lr, alpha: 0.99, epsilon: 1e-8, weightDecay: c.weightDecay,
                               momentum: c.momentum, centered: c.centered)
            #expect(maxRelativeError(parameter.array, try fixture.tensor("param_after_step\(step)").data) <= 1e-5,
                    "\(c.name) step \(step)")
        }
    }

    /// The 16-lane body and the scalar tail agree (centred, momentum, weight decay).
    @Test func rmspropSIMDBodyMatchesScalarTail() {
        let count = 37
        let initial = OpsTestSupport.randomValues(count, seed: 51)
        let zeros = [Float](repeating: 0, count: count)
        let whole = OpsBuffer(initial), single = OpsBuffer(initial)
        let states = (0..<6).map { _ in OpsBuffer(zeros) }
        for seed in [52, 53, 54] {
            let g = OpsBuffer(OpsTestSupport.randomValues(count, seed: UInt64(seed)))
            RMSpropUpdate.step(count: count, parameter: whole.pointer, gradient: g.readOnly, squareAverage: states[0].pointer,
                               gradientAverage: states[1].pointer, momentumBuffer: states[2].pointer, learningRate: 0.01,
                               alpha: 0.9, epsilon: 1e-8, weightDecay: 0.01, momentum: 0.8, centered: true)
            for i in 0..<count {
                RMSpropUpdate.step(count: 1, parameter: single.pointer + i, gradient: g.readOnly + i,
                                   squareAverage: states[3].pointer + i, gradientAverage: states[4].pointer + i,
                                   momentumBuffer: states[5].pointer + i, learningRate: 0.01, alpha: 0.9, epsilon: 1e-8,
                                   weightDecay: 0.01, momentum: 0.8, centered: true)
            }
        }
        #expect(maxRelativeError(whole.array, single.array, floor: 1e-6) <= 1e-6)
        #expect(whole.array != initial)
    }

    /// clip_grad_norm_(max_norm=1) over three tensors: cnnspec holds them in one buffer, back to back.
    @Test func clipGradNormMatchesPyTorch() throws {
        let fixture = try PyTorchFixture.load("clip_grad_norm_1")
        let maxNorm = Float((fixture.config["max_norm"] as? Double) ?? .nan)
        let gradients = try (0..<3).flatMap { try fixture.tensor("grad\($0)").data }
        let expected = try (0..<3).flatMap { try fixture.tensor("clipped\($0)").data }
        let buffer = OpsBuffer(gradients)
        let norm = GradientClipping.clipNorm(count: buffer.count, buffer.pointer, maxNorm: maxNorm)
        #expect(maxRelativeError([Float(norm)], try fixture.tensor("total_norm").data) <= 1e-5)
        #expect(norm > Double(maxNorm), "the fixture must exercise clipping")
        #expect(maxRelativeError(buffer.array, expected) <= 1e-5)
    }

    /// Below the limit nothing changes; a 3-4-0… vector (norm 5) clipped to 2.5 halves (up to PyTorch's 1e-6).
    @Test func clipGradNormByHand() {
        var values = [Float](repeating: 0, count: 40)
        values[0] = 3; values[39] = 4
        let untouched = OpsBuffer(values)
        #expect(abs(GradientClipping.clipNorm(count: 40, untouched.pointer, maxNorm: 6) - 5) < 1e-9)
        #expect(untouched.array == values)
        let clipped = OpsBuffer(values)
        GradientClipping.clipNorm(count: 40, clipped.pointer, maxNorm: 2.5)
        let coefficient = Float(2.5 / (5 + 1e-6))
        #expect(clipped.array[0] == 3 * coefficient && clipped.array[39] == 4 * coefficient)
        #expect(clipped.array[1..<39].allSatisfy { $0 == 0 })
    }

    /// clip_grad_value_(0.5) on values that cross the limit both ways, in the SIMD body and the tail.
    @Test func clipGradValueClampsEveryElement() {
        let values = (0..<35).map { Float($0 - 17) * 0.05 }  // −0.85 … 0.85
        let buffer = OpsBuffer(values)
        GradientClipping.clampValues(count: values.count, buffer.pointer, limit: 0.5)
        #expect(buffer.array == values.map { min(max($0, -0.5), 0.5) })
        #expect(buffer.array.first == -0.5 && buffer.array.last == 0.5 && buffer.array[17] == 0)
    }

    @Test(arguments: ["cross_entropy_label_smoothing_0.1", "cross_entropy_label_smoothing_0.2"])
    func labelSmoothingMatchesPyTorch(name: String) throws {
        let fixture = try PyTorchFixture.load(name)
        let smoothing = Float((fixture.config["label_smoothing"] as? Double) ?? .nan)
        let logits = try fixture.tensor("logits")
        let labels = try fixture.tensor("labels").data.map { Int32($0) }
        let x = OpsBuffer(logits.data), y = OpsBuffer(labels)
        let grad = OpsBuffer(repeating: Float.nan, count: logits.data.count)
        let result = SoftmaxCrossEntropy.forwardBackward(batch: labels.count, classes: logits.shape[1], logits: x.readOnly,
                                                         labels: y.readOnly, gradLogits: grad.pointer, labelSmoothing: smoothing)
        #expect(maxRelativeError([result.loss], try fixture.tensor("loss").data) <= 1e-5)
        #expect(maxRelativeError(grad.array, try fixture.tensor("grad_logits").data) <= 1e-5)
        let plain = SoftmaxCrossEntropy.forwardBackward(batch: labels.count, classes: logits.shape[1], logits: x.readOnly,
                                                        labels: y.readOnly, gradLogits: nil)
        #expect(plain.loss != result.loss, "smoothing must change the loss")
    }

    /// A training step's recipe kernels (RMSprop centred with momentum, value and norm clipping, the
    /// smoothed loss) allocate nothing; counted on this thread only (they run on the caller's thread).
    /// The array made inside the counted region shows the counter is live.
    @Test func recipeKernelsDoNotAllocate() {
        let count = 10_000, batch = 32, classes = 10
        let zeros = [Float](repeating: 0, count: count)
        let parameter = OpsBuffer(OpsTestSupport.randomValues(count, seed: 61)), gradient = OpsBuffer(zeros)
        let square = OpsBuffer(zeros), average = OpsBuffer(zeros), momentum = OpsBuffer(zeros)
        let logits = OpsBuffer(OpsTestSupport.randomValues(batch * classes, seed: 62)), grad = OpsBuffer(zeros)
        let labels = OpsBuffer((0..<batch).map { Int32($0 % classes) })
        let source = OpsTestSupport.randomValues(count, seed: 63)
        func step() {
            gradient.pointer.update(from: source, count: count)
            GradientClipping.clampValues(count: count, gradient.pointer, limit: 0.5)
            GradientClipping.clipNorm(count: count, gradient.pointer, maxNorm: 1)
            RMSpropUpdate.step(count: count, parameter: parameter.pointer, gradient: gradient.readOnly, squareAverage: square.pointer,
                               gradientAverage: average.pointer, momentumBuffer: momentum.pointer, learningRate: 0.01, alpha: 0.99,
                               epsilon: 1e-8, weightDecay: 1e-4, momentum: 0.9, centered: true)
            _ = SoftmaxCrossEntropy.forwardBackward(batch: batch, classes: classes, logits: logits.readOnly, labels: labels.readOnly,
                                                    gradLogits: grad.pointer, labelSmoothing: 0.1)
        }
        step()
        cnnspec_count_this_thread(1)
        // The fewest allocations over three windows of 20 steps: a kernel that allocates does so in every
        // window, while a one-off allocation of the Swift runtime on this thread (seen once in a few hundred
        // runs of the suite) lands in one window only.
        var allocations = UInt64.max
        for _ in 0..<3 {
            let before = cnnspec_counted_allocation_count()
            for _ in 0..<20 { step() }
            allocations = min(allocations, cnnspec_counted_allocation_count() &- before)
        }
        let before = cnnspec_counted_allocation_count()
        let control = [Float](repeating: 1, count: 1000 + Int(allocations))
        let withControl = cnnspec_counted_allocation_count() &- before
        cnnspec_count_this_thread(0)
        #expect(allocations == 0)
        #expect(withControl > 0 && control.count >= 1000)
    }
}
