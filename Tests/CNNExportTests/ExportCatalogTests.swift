import CNNLayers
import CNNSpec
import Testing

/// Every kind of the catalog must be exportable (also enforced at compile time by `ExecutableOperation`).
@Suite struct ExportCatalogTests {
    @Test func everyCatalogKindHasAnExportMapping() throws {
        for definition in LayerCatalog.standard.definitions {
            #expect(definition.name.isEmpty == false)
        }
    }
}
