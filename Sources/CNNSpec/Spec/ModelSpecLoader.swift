import Foundation

/// Loads a model file (see docs/model-yaml.md) into a `ModelGraph` with every shape inferred.
///
/// All problems in the file are reported together in one `SpecError`, sorted by line.
public enum ModelSpecLoader {
    /// Top-level keys of a model file.
    static let topLevelKeys = ["name", "description", "args", "input", "layers", "blocks"]

    /// Reads a model file. `inputOverride` replaces the file's `input:` (e.g. `--input 3,64,64`);
    /// `arguments` are values for the file's top-level `args:` (a config's `model.args`).
    public static func load(path: String, catalog: LayerCatalog, inputOverride: TensorShape? = nil,
                            arguments: [ModelArgument] = []) throws(SpecError) -> ModelGraph {
        let document = try YAMLParser.parse(contentsOf: path)
        return try load(document: document, defaultName: modelName(fromPath: path), catalog: catalog, inputOverride: inputOverride,
                        arguments: arguments)
    }

    /// The model a run config names, with its `model.args`.
    public static func load(config: RunConfig, catalog: LayerCatalog, inputOverride: TensorShape? = nil) throws(SpecError) -> ModelGraph {
        try load(path: config.modelPath, catalog: catalog, inputOverride: inputOverride, arguments: config.modelArguments)
    }

    /// Parses a model from YAML text; `file` names it in messages.
    public static func load(yaml: String, file: String = "model.yaml", catalog: LayerCatalog,
                            inputOverride: TensorShape? = nil, arguments: [ModelArgument] = []) throws(SpecError) -> ModelGraph {
        let document = try YAMLParser.parse(yaml, file: file)
        return try load(document: document, defaultName: modelName(fromPath: file), catalog: catalog, inputOverride: inputOverride,
                        arguments: arguments)
    }

    /// Builds a model from an already parsed document (a run config may embed its model as a mapping).
    public static func load(document original: YAMLNode, defaultName: String, catalog: LayerCatalog,
                            inputOverride: TensorShape? = nil, arguments: [ModelArgument] = []) throws(SpecError) -> ModelGraph {
        let diagnostics = DiagnosticCollector()
        guard let document = bindModelArguments(original, arguments, defaultName: defaultName, diagnostics: diagnostics) else {
            // Arguments that do not bind leave `$name`s the layers would misread: report just the arguments.
            try diagnostics.throwIfAny()
            throw SpecError(Diagnostic("the model's arguments could not be bound", at: original.location))  // invariant: bind reported why
        }
        guard case .mapping(let pairs, let location) = document else {
            throw SpecError(Diagnostic("a model file is a mapping with 'input:' and 'layers:', got \(document.kindDescription)",
                                       at: document.location, hint: exampleHint))
        }
        for (key, _) in pairs {
            let word = key.scalarText ?? key.kindDescription
            guard !topLevelKeys.contains(word) else { continue }
            let suggestion = DidYouMean.suggestion(for: word, among: topLevelKeys)
            diagnostics.error("unknown top-level key '\(word.prefix(80))'", at: key.location,
                              hint: (suggestion.map { "did you mean '\($0)'? " } ?? "") + "a model file has \(topLevelKeys.joined(separator: ", "))")
        }
        var name = defaultName
        if let nameNode = document["name"] {
            if let text = nameNode.scalarText, !nameNode.isNull { name = text } else {
                diagnostics.error("name must be a word, got \(nameNode.kindDescription)", at: nameNode.location)
            }
        }
        var inputShape: TensorShape? = inputOverride
        if let inputNode = document["input"] {
            let written = parseInput(inputNode, diagnostics: diagnostics)
            if inputShape == nil { inputShape = written }
        } else if inputOverride == nil {
            diagnostics.error("the model has no 'input:'", at: location, hint: "add 'input: [1, 28, 28]' (channels, height, width)")
        }
        let blocks = parseBlocks(document["blocks"], catalog: catalog, diagnostics: diagnostics)
        guard let layersNode = document["layers"] else {
            diagnostics.error("the model has no 'layers:'", at: location, hint: exampleHint)
            try diagnostics.throwIfAny()
            return ModelGraph(name: name, nodes: [])  // invariant: unreachable, an error was just recorded
        }
        let expander = LayerListExpander(diagnostics: diagnostics, catalog: catalog, blocks: blocks, inputLocation: document["input"]?.location ?? location)
        expander.expand(layersNode, prefixes: [""], scopeInput: 0, depth: 0, activeBlocks: [])
        var pending = expander.layers
        let resolver = LayerResolver(diagnostics: diagnostics)
        resolver.assignNames(&pending)
        let inputs = resolver.resolveInputs(pending)
        let parser = LayerArgumentParser(diagnostics: diagnostics)
        var resolved: [ResolvedLayer] = []
        for (position, layer) in pending.enumerated().dropFirst() {
            var arguments: LayerArguments?
            if let kind = layer.kind {
                arguments = parser.parse(kind, name: layer.name, parameters: layer.parameters, at: layer.location)
            }
            if !layer.isWellFormed { arguments = nil }
            resolved.append(ResolvedLayer(name: layer.name, arguments: inputs[position] == nil ? nil : arguments,
                                          inputs: inputs[position] ?? [], location: layer.location))
        }
        let inputLocation = document["input"]?.location
        let graph = ShapeInference(diagnostics: diagnostics, catalog: catalog)
            .infer(modelName: name, input: inputShape, inputLocation: inputLocation, layers: resolved)
        try diagnostics.throwIfAny()
        guard let graph else {
            throw SpecError(Diagnostic("the model could not be built", at: location))  // invariant: inference reports why
        }
        return graph
    }

    /// The document with the model's top-level `args:` bound — `arguments` (from a config's `model.args`,
    /// located where they were written) over the declared defaults — and every `$name` outside `args:`
    /// replaced, as a block use does for its body (`TemplateArguments`). A block's own argument of the same
    /// name shadows the model's inside that block. Problems are recorded in `diagnostics`; nil when the
    /// arguments do not bind (unknown or missing ones).
    static func bindModelArguments(_ document: YAMLNode, _ arguments: [ModelArgument], defaultName: String,
                                   diagnostics: DiagnosticCollector) -> YAMLNode? {
        guard case .mapping(let pairs, let location) = document else { return document }
        let owner = "model '\(defaultName)'"
        let declared = document["args"].map { TemplateArguments.parse($0, owner: owner, diagnostics: diagnostics) } ?? TemplateArguments()
        let given = arguments.map { (name: $0.name, location: $0.location ?? location, value: $0.node) }
        guard let values = declared.bind(given, owner: owner, takesName: false, at: document["args"]?.location ?? location,
                                         diagnostics: diagnostics, misspellingScope: "model arguments") else { return nil }
        let known = Set(declared.names)
        var bound: [(key: YAMLNode, value: YAMLNode)] = []
        for (key, value) in pairs {
            switch key.scalarText {
            case "args":
                bound.append((key, value))
            case "blocks":
                guard case .mapping(let blocks, let blocksLocation) = value else { bound.append((key, value)); continue }
                let substituted = blocks.map { block -> (key: YAMLNode, value: YAMLNode) in
                    // Inside a block, its own arguments shadow the model's.
                    var visible = values
                    if case .mapping(let fields, _) = block.value, case .mapping(let own, _)? = block.value["args"] {
                        for argument in own { if let name = argument.key.scalarText { visible[name] = nil } }
                        let body = fields.map { field in
                            (key: field.key, value: field.key.scalarText == "args" ? field.value
                                : BlockTemplate.substitute(field.value, visible))
                        }
                        return (block.key, YAMLNode.mapping(body, block.value.location))
                    }
                    return (block.key, BlockTemplate.substitute(block.value, visible))
                }
                bound.append((key, .mapping(substituted, blocksLocation)))
            default:
                if key.scalarText == "input" || key.scalarText == "layers" {
                    TemplateArguments.reportUnknownReferences(in: value, known: known, owner: owner, diagnostics: diagnostics)
                }
                bound.append((key, BlockTemplate.substitute(value, values)))
            }
        }
        return .mapping(bound, location)
    }

    /// Parses `--input C,H,W` (also `CxHxW`, `C×H×W`).
    public static func parseInputShape(_ text: String) throws(SpecError) -> TensorShape {
        let parts = text.split(whereSeparator: { $0 == "," || $0 == "x" || $0 == "×" || $0 == " " })
        let numbers = parts.compactMap { Int($0) }
        guard parts.count == 3, numbers.count == 3 else {
            throw SpecError(Diagnostic("--input must be three whole numbers channels,height,width, got '\(text)'", at: nil,
                                       hint: "for example --input 3,32,32"))
        }
        for number in numbers where number < 1 || number > SpecLimits.maximumDimension {
            throw SpecError(Diagnostic("--input sizes must be from 1 to \(SpecLimits.maximumDimension), got \(number)", at: nil))
        }
        return .image(channels: numbers[0], height: numbers[1], width: numbers[2])
    }

    static let exampleHint = "for example:\n      input: [1, 28, 28]\n      layers:\n        - conv: {out: 16, kernel: 5, padding: same}\n        - relu\n        - maxpool: 2\n        - flatten\n        - linear: 10"

    static func modelName(fromPath path: String) -> String {
        let file = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
        return file.isEmpty ? "model" : file
    }

    private static func parseInput(_ node: YAMLNode, diagnostics: DiagnosticCollector) -> TensorShape? {
        guard case .sequence(let items, let location) = node, items.count == 3 else {
            diagnostics.error("input must be [channels, height, width], got \(node.kindDescription)", at: node.location,
                              hint: "MNIST is input: [1, 28, 28]; CIFAR-10 is input: [3, 32, 32]")
            return nil
        }
        let reader = ValueReader(diagnostics: diagnostics, owner: "input")
        let names = ["channels", "height", "width"]
        let values = zip(items, names).map { reader.integer($0, key: $1, minimum: 1) }
        guard let c = values[0], let h = values[1], let w = values[2] else { return nil }
        _ = location
        return .image(channels: c, height: h, width: w)
    }

    private static func parseBlocks(_ node: YAMLNode?, catalog: LayerCatalog, diagnostics: DiagnosticCollector) -> [String: BlockTemplate] {
        guard let node else { return [:] }
        guard case .mapping(let pairs, _) = node else {
            diagnostics.error("blocks must be a mapping of block names to definitions, got \(node.kindDescription)", at: node.location)
            return [:]
        }
        var blocks: [String: BlockTemplate] = [:]
        for (key, value) in pairs {
            guard let name = key.scalarText, !key.isNull else {
                diagnostics.error("a block name must be a word", at: key.location)
                continue
            }
            if catalog.definition(named: name) != nil || name == "repeat" {
                diagnostics.error("block name '\(name)' is already a layer kind", at: key.location, hint: "choose another name")
                continue
            }
            guard case .mapping(let fields, _) = value else {
                diagnostics.error("block '\(name)' must be a mapping with 'layers:' (and optional 'args:')", at: value.location)
                continue
            }
            var arguments = TemplateArguments()
            var layers: YAMLNode?
            for (fieldKey, fieldValue) in fields {
                switch fieldKey.scalarText {
                case "layers": layers = fieldValue
                case "args":
                    arguments = TemplateArguments.parse(fieldValue, owner: "block '\(name)'", diagnostics: diagnostics)
                default:
                    let word = fieldKey.scalarText ?? fieldKey.kindDescription
                    let suggestion = DidYouMean.suggestion(for: word, among: ["args", "layers"])
                    diagnostics.error("unknown key '\(word)' in block '\(name)'", at: fieldKey.location,
                                      hint: (suggestion.map { "did you mean '\($0)'? " } ?? "") + "a block has args and layers")
                }
            }
            guard let layers else {
                diagnostics.error("block '\(name)' has no 'layers:'", at: key.location)
                continue
            }
            TemplateArguments.reportUnknownReferences(in: layers, known: Set(arguments.names), owner: "block '\(name)'",
                                                      diagnostics: diagnostics)
            blocks[name] = BlockTemplate(name: name, arguments: arguments, layers: layers, location: key.location)
        }
        return blocks
    }
}
