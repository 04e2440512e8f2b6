import Testing
import CNNKernels
import PyTorchFixtures

@Test func floatBilinearMatchesPyTorchInterpolate() throws {
    let fixture = try PyTorchFixture.load("resize_bilinear_28_to_32")
    let input = try fixture.tensor("input"), expected = try fixture.tensor("output")
    var output = [Float](repeating: 0, count: 32 * 32)
    input.data.withUnsafeBufferPointer { source in
        output.withUnsafeMutableBufferPointer { destination in
            BilinearResize.resize(source.baseAddress!, planes: 1, inputHeight: 28, inputWidth: 28,
                                  into: destination.baseAddress!, outputHeight: 32, outputWidth: 32)
        }
    }
    #expect(maxRelativeError(output, expected.data, floor: 1e-3) < 1e-5)
}

@Test func pilBilinearMatchesTorchvisionResizeExactly() throws {
    let fixture = try PyTorchFixture.load("resize_pil_uint8_28_to_32")
    let input = try fixture.tensor("input").data.map { UInt8($0) }
    let expected = try fixture.tensor("output").data.map { UInt8($0) }
    let resizer = PILBilinearResizer(inputHeight: 28, inputWidth: 28, outputHeight: 32, outputWidth: 32)
    var output = [UInt8](repeating: 0, count: 32 * 32)
    var scratch = [UInt8](repeating: 0, count: resizer.scratchCount)
    input.withUnsafeBufferPointer { source in
        resizer.resize(source.baseAddress!, into: &output, scratch: &scratch)
    }
    let mismatches = zip(output, expected).filter { $0 != $1 }.count
    #expect(mismatches == 0)
}

@Test func pilBilinearKeepsAConstantImageAndShrinks() {
    let resizer = PILBilinearResizer(inputHeight: 8, inputWidth: 8, outputHeight: 3, outputWidth: 5)
    let input = [UInt8](repeating: 200, count: 64)
    var output = [UInt8](repeating: 0, count: 15)
    var scratch = [UInt8](repeating: 0, count: resizer.scratchCount)
    input.withUnsafeBufferPointer { resizer.resize($0.baseAddress!, into: &output, scratch: &scratch) }
    #expect(output.allSatisfy { $0 == 200 })
}
