import CNNSpec
import Foundation
import Testing
@testable import CNNTrain

@Suite struct CheckpointIOTests {
    @Test func roundTripRestoresEveryTensorWithPyTorchNames() throws {
        let source = try ExecutionPlan(graph: modelAGraph(), batchCapacity: 2, backend: .fixed(.direct), threads: 1, seed: 5)
        let target = try ExecutionPlan(graph: modelAGraph(), batchCapacity: 2, backend: .fixed(.direct), threads: 1, seed: 6)
        let url = TrainingTestSupport.temporaryFolder().appendingPathComponent("model.safetensors")
        try CheckpointIO.save(source.parameters, metadata: ["seed": "5"], to: url)
        let contents = try SafetensorsFile.read(from: url)
        #expect(contents.tensors["cnn1.weight"]?.shape == [16, 1, 5, 5])
        #expect(contents.tensors["fc1.weight"]?.shape == [10, 1568])
        #expect(contents.metadata["seed"] == "5")
        #expect(source.parameters.values(of: "cnn2.weight") != target.parameters.values(of: "cnn2.weight"))
        try CheckpointIO.load(into: target.parameters, from: url)
        for entry in source.parameters.entries {
            #expect(source.parameters.values(of: entry.name) == target.parameters.values(of: entry.name), "\(entry.name)")
        }
    }

    @Test func truncatedCheckpointIsRejectedNamingTheFile() throws {
        let plan = try ExecutionPlan(graph: modelAGraph(), batchCapacity: 1, backend: .fixed(.direct), threads: 1)
        let url = TrainingTestSupport.temporaryFolder().appendingPathComponent("broken.safetensors")
        try CheckpointIO.save(plan.parameters, metadata: [:], to: url)
        let data = try Data(contentsOf: url)
        try data.prefix(data.count - 100).write(to: url)
        #expect {
            try CheckpointIO.load(into: plan.parameters, from: url)
        } throws: { error in
            String(describing: error).contains("broken.safetensors")
        }
    }

    @Test func checkpointOfAnotherModelIsRejectedWithBothShapes() throws {
        let url = TrainingTestSupport.temporaryFolder().appendingPathComponent("other.safetensors")
        try SafetensorsFile.write(tensors: ["cnn1.weight": .init(shape: [8, 1, 5, 5], data: Array(repeating: 0, count: 200))],
                                  metadata: [:], to: url)
        let plan = try ExecutionPlan(graph: modelAGraph(), batchCapacity: 1, backend: .fixed(.direct), threads: 1)
        #expect {
            try CheckpointIO.load(into: plan.parameters, from: url)
        } throws: { error in
            let text = String(describing: error)
            return text.contains("[8, 1, 5, 5]") && text.contains("[16, 1, 5, 5]") && text.contains("missing tensor 'fc1.weight'")
        }
    }
}
