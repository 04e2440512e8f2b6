import Testing
import CNNKernels
import PyTorchFixtures

@Suite struct OptimizerTests {
    struct SGDCase: Sendable {
        var name: String, lr: Float, momentum: Float, dampening: Float, nesterov: Bool, weightDecay: Float
    }

    /// Hyperparameters from each fixture's description (the fixtures' `config` only holds `steps`).
    static let sgdCases = [
        SGDCase(name: "sgd_plain", lr: 0.1, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0),
        SGDCase(name: "sgd_momentum_wd", lr: 0.1, momentum: 0.9, dampening: 0, nesterov: false, weightDecay: 1e-4),
        SGDCase(name: "sgd_momentum_dampening", lr: 0.05, momentum: 0.5, dampening: 0.5, nesterov: false, weightDecay: 0),
        SGDCase(name: "sgd_nesterov", lr: 0.1, momentum: 0.9, dampening: 0, nesterov: true, weightDecay: 0),
    ]

    @Test(arguments: sgdCases)
    func sgdMatchesPyTorch(_ c: SGDCase) throws {
        let fixture = try PyTorchFixture.load(c.name)
        let steps = fixture.config["steps"] as? Int ?? 0
        #expect(steps > 0)
        let parameter = OpsBuffer(try fixture.tensor("param_initial").data)
        let buffer = OpsBuffer(repeating: Float.nan, count: parameter.count)
        for step in 1...max(steps, 1) {
            let gradient = OpsBuffer(try fixture.tensor("grad_step\(step)").data)
            SGDUpdate.step(count: parameter.count, parameter: parameter.pointer, gradient: gradient.readOnly,
                           momentumBuffer: buffer.pointer, isFirstStep: step == 1, learningRate: c.lr, momentum: c.momentum,
                           dampening: c.dampening, nesterov: c.nesterov, weightDecay: c.weightDecay)
            #expect(maxRelativeError(parameter.array, try fixture.tensor("param_after_step\(step)").data) <= 1e-5)
        }
    }

    @Test(arguments: [("adam_default", Float(1e-3), Float(0), false), ("adam_wd", 0.01, 0.01, false), ("adamw", 0.01, 0.01, true)])
    func adamMatchesPyTorch(name: String, lr: Float, weightDecay: Float, decoupled: Bool) throws {
        let fixture = try PyTorchFixture.load(name)
        let steps = fixture.config["steps"] as? Int ?? 0
        #expect(steps > 0)
        let parameter = OpsBuffer(try fixture.tensor("param_initial").data)
        let first = OpsBuffer(repeating: Float(0), count: parameter.count), second = OpsBuffer(repeating: Float(0), count: parameter.count)
        for step in 1...max(steps, 1) {
            let gradient = OpsBuffer(try fixture.tensor("grad_step\(step)").data)
            AdamUpdate.step(count: parameter.count, parameter: parameter.pointer, gradient: gradient.readOnly, firstMoment: first.pointer,
                            secondMoment: second.pointer, step: step, learningRate: lr, beta1: 0.9, beta2: 0.999, epsilon: 1e-8,
                            weightDecay: weightDecay, decoupledWeightDecay: decoupled)
            #expect(maxRelativeError(parameter.array, try fixture.tensor("param_after_step\(step)").data) <= 1e-5)
        }
    }

    /// The 16-lane loop and the scalar tail implement the same update: a 37-element step equals
    /// element-by-element 1-element steps, for SGD (Nesterov, decay, dampening) and AdamW.
    @Test func simdBodyMatchesScalarTail() {
        let count = 37
        let initial = OpsTestSupport.randomValues(count, seed: 41)
        let gradients = [OpsTestSupport.randomValues(count, seed: 42), OpsTestSupport.randomValues(count, seed: 43)]
        let whole = OpsBuffer(initial), wholeBuffer = OpsBuffer(repeating: Float(0), count: count)
        let single = OpsBuffer(initial), singleBuffer = OpsBuffer(repeating: Float(0), count: count)
        let m1 = OpsBuffer(repeating: Float(0), count: count), v1 = OpsBuffer(repeating: Float(0), count: count)
        let m2 = OpsBuffer(repeating: Float(0), count: count), v2 = OpsBuffer(repeating: Float(0), count: count)
        for (index, gradient) in gradients.enumerated() {
            let g = OpsBuffer(gradient)
            SGDUpdate.step(count: count, parameter: whole.pointer, gradient: g.readOnly, momentumBuffer: wholeBuffer.pointer,
                           isFirstStep: index == 0, learningRate: 0.1, momentum: 0.9, dampening: 0.3, nesterov: true, weightDecay: 0.01)
            AdamUpdate.step(count: count, parameter: whole.pointer, gradient: g.readOnly, firstMoment: m1.pointer, secondMoment: v1.pointer,
                            step: index + 1, learningRate: 0.01, beta1: 0.9, beta2: 0.99, epsilon: 1e-8, weightDecay: 0.1,
                            decoupledWeightDecay: true)
            for i in 0..<count {
                SGDUpdate.step(count: 1, parameter: single.pointer + i, gradient: g.readOnly + i, momentumBuffer: singleBuffer.pointer + i,
                               isFirstStep: index == 0, learningRate: 0.1, momentum: 0.9, dampening: 0.3, nesterov: true, weightDecay: 0.01)
                AdamUpdate.step(count: 1, parameter: single.pointer + i, gradient: g.readOnly + i, firstMoment: m2.pointer + i,
                                secondMoment: v2.pointer + i, step: index + 1, learningRate: 0.01, beta1: 0.9, beta2: 0.99,
                                epsilon: 1e-8, weightDecay: 0.1, decoupledWeightDecay: true)
            }
        }
        #expect(maxRelativeError(whole.array, single.array, floor: 1e-6) <= 1e-6)
    }
}
