/// The layer kinds a model file may use. cnnspec's own is `LayerCatalog.standard` (in CNNLayers);
/// the loaders take a catalog so that the spec layer knows no concrete kind.
public struct LayerCatalog: Sendable {
    public let definitions: [LayerDefinition]
    private let byName: [String: Int]

    /// Definitions in reference order. Names and synonyms must be unique (checked by a test).
    public init(_ definitions: [LayerDefinition]) {
        self.definitions = definitions
        var byName: [String: Int] = [:]
        for (index, definition) in definitions.enumerated() {
            for spelling in [definition.name] + definition.synonyms where byName[spelling] == nil {
                byName[spelling] = index
            }
        }
        self.byName = byName
    }

    /// The kind a word in the file names, if any (case-insensitive).
    public func definition(named word: String) -> LayerDefinition? {
        byName[word.lowercased()].map { definitions[$0] }
    }

    /// Every spelling, for did-you-mean suggestions.
    public var allSpellings: [String] { byName.keys.sorted() }

    /// Canonical names, in reference order.
    public var names: [String] { definitions.map(\.name) }

    /// PyTorch arguments cnnspec does not implement; named so the error is not a vague "unknown key".
    static let unsupportedPyTorchKeys: [String: String] = [
        "return_indices": "pooling indices are not returned",
        "device": "cnnspec runs on the CPU",
        "dtype": "cnnspec computes in float32",
    ]
}
