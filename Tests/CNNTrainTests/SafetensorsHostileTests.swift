import CNNSpec
import Foundation
import PyTorchFixtures
import Testing
import CNNLayers
@testable import CNNTrain

/// Headers written by hand: a checkpoint from elsewhere must never trap, only be refused clearly.
struct SafetensorsHostileHeaderTests {
    /// A file with `header` (padded) and `dataBytes` zero bytes of data.
    private func file(_ header: String, dataBytes: Int = 0) -> Data {
        var text = Array(header.utf8)
        while text.count % 8 != 0 { text.append(0x20) }
        var data = Data()
        withUnsafeBytes(of: UInt64(text.count).littleEndian) { data.append(contentsOf: $0) }
        data.append(contentsOf: text)
        data.append(contentsOf: [UInt8](repeating: 0, count: dataBytes))
        return data
    }

    private func message(_ data: Data) -> String {
        do throws(CheckpointError) { _ = try SafetensorsFile.decode(data, path: "evil.safetensors"); return "no error" } catch {
            return error.description
        }
    }

    @Test func hugeDimensionsAreRefusedWithoutOverflow() {
        let cases = [
            (#"{"w":{"dtype":"F32","shape":[9223372036854775807],"data_offsets":[0,4]}}"#, "more elements"),
            (#"{"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}}"#, "more elements"),
            (#"{"w":{"dtype":"F32","shape":[18446744073709551615],"data_offsets":[0,4]}}"#, "more elements"),
            (#"{"w":{"dtype":"F32","shape":[99999999999999999999999],"data_offsets":[0,4]}}"#, "larger than any file"),
            (#"{"w":{"dtype":"F32","shape":[1.9],"data_offsets":[0,4]}}"#, "not a whole number"),
            (#"{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#, "negative dimension"),
            (#"{"w":{"dtype":"F32","shape":["1"],"data_offsets":[0,4]}}"#, "not a number"),
            (#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,18446744073709551615]}}"#, "[0, 18446744073709551615]"),
            (#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0.5,4]}}"#, "not two whole"),
            (#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}"#, "span 4 bytes"),
        ]
        for (header, expected) in cases {
            let text = message(file(header, dataBytes: 4))
            #expect(text.hasPrefix("evil.safetensors: error:"), "\(header)")
            #expect(text.contains(expected), "\(header) → \(text)")
        }
    }

    @Test func headerLengthIsBoundedBeforeAllocation() {
        var data = Data()
        withUnsafeBytes(of: UInt64.max.littleEndian) { data.append(contentsOf: $0) }
        data.append(contentsOf: [0x7B, 0x7D])
        #expect(message(data).contains("exceeds the 100000000-byte limit"))
    }

    @Test func numBatchesTrackedIsWrittenAsInt64() throws {
        let data = try SafetensorsFile.encode(tensors: ["bn.num_batches_tracked": .init(shape: [], data: [123]),
                                                        "bn.weight": .init(shape: [1], data: [2])], metadata: [:])
        let text = String(decoding: data, as: UTF8.self)
        #expect(text.contains(#""bn.num_batches_tracked":{"dtype":"I64","shape":[],"data_offsets":[0,8]}"#))
        let back = try SafetensorsFile.decode(data, path: "x")
        #expect(back.tensors["bn.num_batches_tracked"]?.data == [123])
        #expect(back.tensors["bn.weight"]?.data == [2])
    }

    @Test func halfPrecisionConvertsExactly() {
        #expect(SafetensorsFile.halfToFloat(0x3C00) == 1)
        #expect(SafetensorsFile.halfToFloat(0xC000) == -2)
        #expect(SafetensorsFile.halfToFloat(0x0001) == 0x1p-24)
        #expect(SafetensorsFile.halfToFloat(0x7BFF) == 65504)
        #expect(SafetensorsFile.halfToFloat(0x7C00) == .infinity)
        #expect(SafetensorsFile.halfToFloat(0x3555) == Float(0x3555 & 0x3FF | 0x400) * 0x1p-12)
    }
}

/// PyTorch's own `save_file(model.state_dict())` files (int64 counters, fp16, fp64) load into the
/// equivalent cnnspec model and reproduce PyTorch's eval logits.
struct NativePyTorchCheckpointTests {
    static let folder = PyTorchFixture.directory.appendingPathComponent("native-checkpoint")
    static let model = """
        name: native_bn_net
        input: [1, 12, 12]
        layers:
          - conv: {out: 8, kernel: 3, padding: 1, name: conv1}
          - batchnorm2d: {name: bn1}
          - relu
          - maxpool: 2
          - conv: {out: 16, kernel: 3, padding: 1, bias: false, name: conv2}
          - batchnorm2d: {name: bn2}
          - relu
          - global_avgpool
          - flatten
          - linear: {out: 10, name: fc}
        """

    private func logits(weights file: String) throws -> (ours: [Float], fixture: PyTorchFixture) {
        let fixture = try PyTorchFixture.load("native-checkpoint/native_bn_net")
        let graph = try ModelSpecLoader.load(yaml: Self.model, catalog: .standard)
        let input = try #require(fixture.tensors["input"])
        let plan = try ExecutionPlan(graph: graph, batchCapacity: input.shape[0], backend: .fixed(.direct), threads: 1)
        try CheckpointIO.load(into: plan.parameters, from: Self.folder.appendingPathComponent(file))
        plan.parametersDidChange()
        plan.input.update(from: input.data, count: input.data.count)
        plan.forward(batch: input.shape[0], training: false)
        return (Array(UnsafeBufferPointer(start: plan.logits, count: input.shape[0] * 10)), fixture)
    }

    @Test(arguments: [("native_bn_net.safetensors", "logits_eval"), ("native_bn_net_fp64.safetensors", "logits_eval"),
                      ("native_bn_net_fp16.safetensors", "logits_eval_from_fp16_weights")])
    func reproducesPyTorchLogits(file: String, reference: String) throws {
        let (ours, fixture) = try logits(weights: file)
        let expected = try #require(fixture.tensors[reference]).data
        let worst = zip(ours, expected).map { abs($0 - $1) }.max() ?? .infinity
        #expect(worst <= 1e-4, "\(file): max |Δ| \(worst)")
    }

    @Test func int64CounterIsRead() throws {
        let contents = try SafetensorsFile.read(from: Self.folder.appendingPathComponent("native_bn_net.safetensors"))
        let counter = try #require(contents.tensors["bn1.num_batches_tracked"])
        #expect(counter.shape == [] && counter.data.count == 1 && counter.data[0] >= 0)
    }
}
