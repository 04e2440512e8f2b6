import Foundation
import Testing
@testable import CNNLayers
@testable import CNNSpec

/// The standard catalog is consistent, and the written reference is the catalog's own output.
@Suite struct LayerCatalogTests {
    @Test func everySpellingNamesOneKind() {
        var owner: [String: String] = [:]
        for definition in LayerCatalog.standard.definitions {
            for spelling in Set([definition.name] + definition.synonyms) {
                #expect(owner[spelling] == nil, "'\(spelling)' names both \(owner[spelling] ?? "") and \(definition.name)")
                owner[spelling] = definition.name
            }
            let keys = definition.keys.flatMap { [$0.name] + $0.aliases }
            #expect(Set(keys).count == keys.count, "\(definition.name) spells a key twice")
            #expect(!keys.contains("name") && !keys.contains("from"))
            if let short = definition.shortFormKey { #expect(definition.key(short) != nil, "\(definition.name)") }
        }
    }

    @Test func everyKindsExampleLoads() throws {
        for definition in LayerCatalog.standard.definitions {
            let example = definition.example.components(separatedBy: "   or   ")[0]
            let entry = String(example.dropFirst(2))
            let layers: [String]
            switch (definition.arity, definition.name) {
            case (.merge, _):
                layers = ["conv: {out: 4, kernel: 3, padding: 1, name: shortcut}", "conv: {out: 4, kernel: 3, padding: 1, name: conv2}",
                          "conv: {out: 4, kernel: 3, padding: 1, name: branch1}", "conv: {out: 4, kernel: 3, padding: 1, name: branch2}",
                          "conv: {out: 4, kernel: 3, padding: 1, name: branch3}", "conv: {out: 4, kernel: 3, padding: 1, name: features}",
                          "global_avgpool: {name: gate}", entry]
            case (_, "batchnorm1d"), (_, "linear"): layers = ["flatten", entry]
            default: layers = [entry]
            }
            let yaml = SpecTestSupport.model(layers, input: "[4, 16, 16]")
            #expect(SpecTestSupport.diagnostics(yaml).isEmpty, "\(definition.name): \(SpecTestSupport.diagnostics(yaml))")
        }
    }

    @Test func docsLayerReferenceIsTheCatalogsOutput() throws {
        let path = SpecTestSupport.modelsDirectory.deletingLastPathComponent().appendingPathComponent("docs/layers.md").path
        let written = try String(contentsOfFile: path, encoding: .utf8)
        #expect(written == LayerReference(catalog: .standard).markdown(),
                "docs/layers.md is stale: regenerate it with `cnnspec layers --format markdown > docs/layers.md`")
    }
}
