import Foundation
import Testing
@testable import CNNSpec

private func spec(_ text: String) throws -> SweepSpec { try SweepSpecLoader.parse(text, file: "/sweeps/s.yaml") }

@Test func gridExpandsEveryCombinationLastKeyFastest() throws {
    let sweep = try spec("""
        base: ../modelA.yaml
        vary:
          model: [../models/modelA.yaml, ../models/modelB.yaml]
          train.optimizer.lr: [0.1, 0.01, 0.001]
        """)
    #expect(sweep.basePath == "/modelA.yaml")
    #expect(sweep.name == "s")
    let points = SweepExpansion.points(of: sweep)
    #expect(points.count == 6)
    #expect(points.map(\.id) == ["000-modelA-lr0.1", "001-modelA-lr0.01", "002-modelA-lr0.001",
                                 "003-modelB-lr0.1", "004-modelB-lr0.01", "005-modelB-lr0.001"])
    #expect(points[4].overrides(of: sweep) == ["model=../models/modelB.yaml", "train.optimizer.lr=0.01"])
    #expect(Set(points.map(\.id)).count == points.count)
}

@Test func fixedOverridesComeBeforeTheVariedKeys() throws {
    let sweep = try spec("base: c.yaml\noverrides: [train.iterations=300]\nvary: {train.batch_size: [64, 128]}\n")
    let points = SweepExpansion.points(of: sweep)
    #expect(points.map { $0.overrides(of: sweep) } == [["train.iterations=300", "train.batch_size=64"],
                                                       ["train.iterations=300", "train.batch_size=128"]])
    #expect(points.map(\.id) == ["000-bs64", "001-bs128"])
}

@Test func randomSamplesAreSeededAndInRange() throws {
    let text = """
        base: c.yaml
        mode: random
        samples: 50
        seed: SEED
        vary:
          train.optimizer.lr: {log_uniform: [0.0001, 0.1]}
          train.optimizer.momentum: {uniform: [0.5, 0.9]}
          train.batch_size: [32, 64, 128]
        """
    let first = SweepExpansion.points(of: try spec(text.replacingOccurrences(of: "SEED", with: "7")))
    let again = SweepExpansion.points(of: try spec(text.replacingOccurrences(of: "SEED", with: "7")))
    let other = SweepExpansion.points(of: try spec(text.replacingOccurrences(of: "SEED", with: "8")))
    #expect(first.count == 50)
    #expect(first == again)
    #expect(first != other)
    let rates = first.compactMap { Double($0.assignments[0].value) }
    let momenta = first.compactMap { Double($0.assignments[1].value) }
    #expect(rates.count == 50 && momenta.count == 50)
    #expect(rates.allSatisfy { (0.0001...0.1).contains($0) })
    #expect(momenta.allSatisfy { (0.5...0.9).contains($0) })
    // log-uniform: about a third of the draws in each decade, so some well below 0.01
    #expect(rates.filter { $0 < 0.001 }.count >= 5)
    #expect(rates.filter { $0 > 0.01 }.count >= 5)
    #expect(Set(first.map { $0.assignments[2].value }) == ["32", "64", "128"])
}

@Test func shippedSweepsLoadWithTheirBaseConfigs() throws {
    let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("configs/sweeps")
    let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".yaml") }
    #expect(files.count >= 2)
    for file in files {
        let sweep = try SweepSpecLoader.load(path: folder.appendingPathComponent(file).path)
        #expect(!SweepExpansion.points(of: sweep).isEmpty)
    }
}
