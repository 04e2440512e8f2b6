import CNNKernels
import Foundation

/// Times a convolution kernel on random data of its real shapes: forward plus the backward passes training runs.
struct BackendTimer {
    let geometry: ConvolutionGeometry
    let needsDataGradient: Bool

    /// Median milliseconds of forward + backward over a few repetitions, after a warm-up.
    func measure(_ kernel: any ConvolutionKernel) -> Double {
        let g = geometry
        let inputCount = g.batch * g.inChannels * g.inHeight * g.inWidth
        let outputCount = g.batch * g.outChannels * g.outHeight * g.outWidth
        let weightCount = g.outChannels * g.inChannels * g.kernelHeight * g.kernelWidth
        let input = AlignedBuffer<Float>(count: inputCount)
        let gradInput = AlignedBuffer<Float>(count: inputCount)
        let output = AlignedBuffer<Float>(count: outputCount)
        let weight = AlignedBuffer<Float>(count: weightCount)
        let gradWeight = AlignedBuffer<Float>(count: weightCount)
        let bias = AlignedBuffer<Float>(count: g.outChannels)
        let gradBias = AlignedBuffer<Float>(count: g.outChannels)
        var generator = SeededGenerator(seed: 1)
        for index in 0..<inputCount { input.pointer[index] = Float.random(in: -1..<1, using: &generator) }
        for index in 0..<weightCount { weight.pointer[index] = Float.random(in: -0.1..<0.1, using: &generator) }
        kernel.prepare(weight: weight.pointer)
        var samples: [Double] = []
        for repetition in 0..<4 {
            let start = DispatchTime.now().uptimeNanoseconds
            kernel.forward(batch: g.batch, input: input.pointer, weight: weight.pointer, bias: bias.pointer, output: output.pointer)
            kernel.backwardWeights(batch: g.batch, input: input.pointer, gradOutput: output.pointer,
                                   gradWeight: gradWeight.pointer, gradBias: gradBias.pointer)
            if needsDataGradient {
                kernel.backwardData(batch: g.batch, gradOutput: output.pointer, weight: weight.pointer, gradInput: gradInput.pointer)
            }
            kernel.prepare(weight: weight.pointer)
            let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
            if repetition > 0 { samples.append(elapsed) }
        }
        samples.sort()
        return samples[samples.count / 2]
    }
}
