/// A layer as found in the file, after `repeat` and blocks are expanded, before names and inputs are resolved.
struct PendingLayer {
    /// Nil only for the network input (index 0).
    var kind: LayerDefinition?
    var parameters: [WrittenParameter]
    var location: SourceLocation
    /// The written name with its scope prefix (`layer1.0.conv1`).
    var explicitName: String?
    /// Scope prefixes, innermost first, always ending with the top level `""`.
    var prefixes: [String]
    var from: [(text: String, location: SourceLocation)]?
    /// The layer written just before this one (its default input).
    var previous: Int
    /// What `from: input` means here: the network input, or the input of the enclosing block or repetition.
    var scopeInput: Int
    /// False when the entry itself was malformed (already reported).
    var isWellFormed: Bool
    /// Assigned after expansion.
    var name = ""
}

/// Walks `layers:` lists depth-first, expanding `repeat` and block uses into one flat list.
final class LayerListExpander {
    let diagnostics: DiagnosticCollector
    let blocks: [String: BlockTemplate]
    let catalog: LayerCatalog
    private(set) var layers: [PendingLayer]
    private var exceededLimit = false
    private var automaticBlockCounts: [String: Int] = [:]

    init(diagnostics: DiagnosticCollector, catalog: LayerCatalog, blocks: [String: BlockTemplate], inputLocation: SourceLocation) {
        self.diagnostics = diagnostics
        self.catalog = catalog
        self.blocks = blocks
        layers = [PendingLayer(kind: nil, parameters: [], location: inputLocation, explicitName: "input", prefixes: [""],
                               from: nil, previous: 0, scopeInput: 0, isWellFormed: true, name: "input")]
    }

    /// Expands one `layers:` list in the given scope.
    func expand(_ list: YAMLNode, prefixes: [String], scopeInput: Int, depth: Int, activeBlocks: Set<String>) {
        guard case .sequence(let items, _) = list else {
            diagnostics.error("layers must be a list (each entry starting with '- '), got \(list.kindDescription)", at: list.location,
                              hint: "layers:\n      - conv: {out: 16, kernel: 5}\n      - relu")
            return
        }
        if items.isEmpty {
            diagnostics.error("the layer list is empty", at: list.location, hint: "add at least one layer, e.g. '- linear: 10'")
        }
        for item in items {
            guard !exceededLimit, !diagnostics.isFull else { return }
            expandItem(item, prefixes: prefixes, scopeInput: scopeInput, depth: depth, activeBlocks: activeBlocks)
        }
    }

    private func expandItem(_ item: YAMLNode, prefixes: [String], scopeInput: Int, depth: Int, activeBlocks: Set<String>) {
        switch item {
        case .scalar(let word, _, let location):
            if item.isNull {
                diagnostics.error("empty layer entry", at: location, hint: "write a layer kind after '- ', e.g. '- relu'")
                return
            }
            if let kind = catalog.definition(named: word) {
                append(kind: kind, parameters: [], name: nil, from: nil, at: location, prefixes: prefixes,
                       scopeInput: scopeInput, wellFormed: true)
            } else if let block = blocks[word] {
                useBlock(block, value: nil, at: location, prefixes: prefixes, depth: depth, activeBlocks: activeBlocks)
            } else {
                reportUnknownKind(word, at: location)
            }
        case .sequence(_, let location):
            diagnostics.error("a layer entry is a kind or a mapping, got a list", at: location,
                              hint: "write '- relu' or '- conv: {out: 16, kernel: 5}'")
        case .mapping(let pairs, let location):
            if item["repeat"] != nil {
                expandRepeat(pairs, at: location, prefixes: prefixes, scopeInput: scopeInput, depth: depth, activeBlocks: activeBlocks)
                return
            }
            expandLayerMapping(pairs, at: location, prefixes: prefixes, scopeInput: scopeInput, depth: depth, activeBlocks: activeBlocks)
        }
    }

    private func expandLayerMapping(_ pairs: [(key: YAMLNode, value: YAMLNode)], at location: SourceLocation, prefixes: [String],
                                    scopeInput: Int, depth: Int, activeBlocks: Set<String>) {
        var kindPairs: [(word: String, key: YAMLNode, value: YAMLNode)] = []
        var nameNode: YAMLNode?
        var fromNode: YAMLNode?
        for (key, value) in pairs {
            guard let word = key.scalarText else {
                diagnostics.error("a layer's keys must be words, got \(key.kindDescription)", at: key.location)
                continue
            }
            switch word {
            case "name": nameNode = value
            case "from": fromNode = value
            default: kindPairs.append((word, key, value))
            }
        }
        guard let first = kindPairs.first else {
            diagnostics.error("this layer entry has no kind", at: location,
                              hint: "start the entry with a kind, e.g. '- conv: {out: 16, kernel: 5, name: \(nameNode?.scalarText ?? "conv1")}'")
            return
        }
        if kindPairs.count > 1 {
            let words = kindPairs.map { "'\($0.word)'" }.joined(separator: " and ")
            diagnostics.error("one layer entry names several kinds: \(words)", at: kindPairs[1].key.location,
                              hint: "start each layer on its own line with '- ', and put hyperparameters inside {…} after the kind")
            return
        }
        if let block = blocks[first.word] {
            if let fromNode {
                diagnostics.error("a block use cannot take 'from'", at: fromNode.location,
                                  hint: "the block reads the layer before it; use 'from' on layers inside the block")
            }
            useBlock(block, value: first.value, explicitName: nameNode, at: first.key.location, prefixes: prefixes,
                     depth: depth, activeBlocks: activeBlocks)
            return
        }
        guard let kind = catalog.definition(named: first.word) else {
            reportUnknownKind(first.word, at: first.key.location)
            return
        }
        var wellFormed = true
        var parameters: [WrittenParameter] = []
        switch first.value {
        case .mapping(let inner, _):
            for (key, value) in inner {
                guard let word = key.scalarText else {
                    diagnostics.error("hyperparameter names must be words, got \(key.kindDescription)", at: key.location)
                    wellFormed = false
                    continue
                }
                if word == "name" || word == "from" {
                    if (word == "name" ? nameNode : fromNode) != nil {
                        diagnostics.error("'\(word)' is written twice for this layer", at: key.location)
                        wellFormed = false
                    }
                    if word == "name" { nameNode = value } else { fromNode = value }
                    continue
                }
                parameters.append(WrittenParameter(key: kind.canonicalKey(word) ?? word, spelling: word, keyLocation: key.location, value: value))
            }
        case .scalar where first.value.isNull:
            break
        case .scalar, .sequence:
            if let key = kind.shortFormKey.flatMap(kind.key), case .scalar = first.value {
                parameters.append(WrittenParameter(key: key.name, spelling: key.name, keyLocation: first.value.location, value: first.value))
            } else if let key = kind.shortFormKey.flatMap(kind.key), key.acceptsList {
                parameters.append(WrittenParameter(key: key.name, spelling: key.name, keyLocation: first.value.location, value: first.value))
            } else {
                wellFormed = false
                let hint = kind.keys.isEmpty ? "write just '- \(kind.name)'" : "write '\(kind.example)'"
                diagnostics.error("\(kind.name) does not take \(first.value.kindDescription) as its value", at: first.value.location,
                                  hint: hint)
            }
        }
        let name = nameNode.flatMap { checkedName($0) }
        if nameNode != nil && name == nil { wellFormed = false }
        let from = fromNode.flatMap { checkedFrom($0) }
        if fromNode != nil && from == nil { wellFormed = false }
        append(kind: kind, parameters: parameters, name: name.map { prefixes[0] + $0 }, from: from, at: first.key.location,
               prefixes: prefixes, scopeInput: scopeInput, wellFormed: wellFormed)
    }

    private func expandRepeat(_ pairs: [(key: YAMLNode, value: YAMLNode)], at location: SourceLocation, prefixes: [String],
                              scopeInput: Int, depth: Int, activeBlocks: Set<String>) {
        var count: Int?
        var body: YAMLNode?
        var name: String?
        for (key, value) in pairs {
            switch key.scalarText {
            case "repeat":
                if let n = value.intValue, (1...1000).contains(n) { count = n } else {
                    diagnostics.error("repeat must be a whole number from 1 to 1000, got \(value.kindDescription)", at: value.location)
                }
            case "layers": body = value
            case "name": name = checkedName(value)
            default:
                let word = key.scalarText ?? key.kindDescription
                let suggestion = DidYouMean.suggestion(for: word, among: ["repeat", "layers", "name"])
                if let suggestion { diagnostics.noteMisspelling(of: suggestion, in: "repeat at \(location)") }
                diagnostics.error("unknown key '\(word)' in a repeat", at: key.location,
                                  hint: (suggestion.map { "did you mean '\($0)'? " } ?? "") + "a repeat takes repeat, layers and name")
            }
        }
        guard let body else {
            if diagnostics.isMisspelt("layers", in: "repeat at \(location)") { return }
            diagnostics.error("repeat needs 'layers:' (the list to repeat)", at: location,
                              hint: "- repeat: 2\n        layers:\n          - conv: {out: 64, kernel: 3, padding: 1}\n          - relu")
            return
        }
        guard let count, depth < SpecLimits.maximumExpansionDepth else {
            if count != nil { reportTooDeep(at: location) }
            return
        }
        for index in 0..<count {
            guard !exceededLimit, !diagnostics.isFull else { return }
            let innerPrefixes = name.map { [prefixes[0] + "\($0).\(index)."] + prefixes } ?? prefixes
            expand(body, prefixes: innerPrefixes, scopeInput: layers.count - 1, depth: depth + 1, activeBlocks: activeBlocks)
        }
    }

    private func useBlock(_ block: BlockTemplate, value: YAMLNode?, explicitName: YAMLNode? = nil, at location: SourceLocation,
                          prefixes: [String], depth: Int, activeBlocks: Set<String>) {
        guard !activeBlocks.contains(block.name) else {
            diagnostics.error("block '\(block.name)' uses itself", at: location, hint: "a block cannot contain itself, directly or through another block")
            return
        }
        guard depth < SpecLimits.maximumExpansionDepth else { return reportTooDeep(at: location) }
        var nameNode = explicitName
        var given: [(name: String, location: SourceLocation, value: YAMLNode)] = []
        var ok = true
        switch value {
        case .mapping(let pairs, _)?:
            for (key, argument) in pairs {
                guard let word = key.scalarText else { continue }
                if word == "name" {
                    if nameNode != nil { diagnostics.error("'name' is written twice for this block use", at: key.location); ok = false }
                    nameNode = argument
                } else {
                    given.append((word, key.location, argument))
                }
            }
        case nil:
            break
        case .some(let other) where other.isNull:
            break
        case .some(let other):
            diagnostics.error("a block use takes a mapping of arguments, got \(other.kindDescription)", at: other.location,
                              hint: "write '- \(block.name): {\(block.arguments.names.map { "\($0): …" }.joined(separator: ", "))}'")
            return
        }
        let arguments = block.arguments.bind(given, owner: "block '\(block.name)'", takesName: true, at: location,
                                             diagnostics: diagnostics, misspellingScope: "block use at \(location)")
        let name: String
        if let nameNode {
            guard let checked = checkedName(nameNode) else { return }
            name = checked
        } else {
            let count = (automaticBlockCounts[prefixes[0] + block.name] ?? 0) + 1
            automaticBlockCounts[prefixes[0] + block.name] = count
            name = "\(block.name)\(count)"
        }
        guard ok, let arguments else { return }
        let body = BlockTemplate.substitute(block.layers, arguments)
        expand(body, prefixes: [prefixes[0] + name + "."] + prefixes, scopeInput: layers.count - 1, depth: depth + 1,
               activeBlocks: activeBlocks.union([block.name]))
    }

    private func append(kind: LayerDefinition, parameters: [WrittenParameter], name: String?,
                        from: [(text: String, location: SourceLocation)]?, at location: SourceLocation,
                        prefixes: [String], scopeInput: Int, wellFormed: Bool) {
        guard !exceededLimit else { return }
        guard layers.count <= SpecLimits.maximumLayers else {
            exceededLimit = true
            diagnostics.error("the model expands to more than \(SpecLimits.maximumLayers) layers", at: location,
                              hint: "check the repeat counts")
            return
        }
        layers.append(PendingLayer(kind: kind, parameters: parameters, location: location, explicitName: name, prefixes: prefixes,
                                   from: from, previous: layers.count - 1, scopeInput: scopeInput, isWellFormed: wellFormed))
    }

    private func checkedName(_ node: YAMLNode) -> String? {
        guard case .scalar(let text, _, let location) = node, !node.isNull else {
            diagnostics.error("a layer name must be a word, got \(node.kindDescription)", at: node.location)
            return nil
        }
        let allowed = text.unicodeScalars.allSatisfy { $0.properties.isAlphabetic || ("0"..."9").contains($0) || "_-.".unicodeScalars.contains($0) }
        guard allowed, text.count <= 200, !text.hasPrefix("."), !text.hasSuffix("."), !text.contains("..") else {
            diagnostics.error("invalid layer name '\(text.prefix(60))'", at: location,
                              hint: "use letters, digits, '_', '-' and '.' between words (like PyTorch's 'layer1.0.conv1')")
            return nil
        }
        guard text != "input" else {
            diagnostics.error("'input' is reserved for the network input", at: location, hint: "choose another name")
            return nil
        }
        return text
    }

    private func checkedFrom(_ node: YAMLNode) -> [(text: String, location: SourceLocation)]? {
        let items: [YAMLNode]
        if case .sequence(let list, _) = node { items = list } else { items = [node] }
        var result: [(text: String, location: SourceLocation)] = []
        for item in items {
            guard case .scalar(let text, _, let location) = item, !item.isNull else {
                diagnostics.error("'from' lists layer names, got \(item.kindDescription)", at: item.location,
                                  hint: "write from: conv1 or from: [branch1, branch2]")
                return nil
            }
            result.append((text, location))
        }
        if result.isEmpty {
            diagnostics.error("'from' is empty", at: node.location, hint: "name at least one earlier layer")
            return nil
        }
        return result
    }

    private func reportUnknownKind(_ word: String, at location: SourceLocation) {
        let candidates = catalog.allSpellings + blocks.keys.sorted() + ["repeat"]
        let suggestion = DidYouMean.suggestion(for: word, among: candidates)
        let kinds = catalog.names.joined(separator: ", ")
        diagnostics.error("unknown layer kind '\(word.prefix(80))'", at: location,
                          hint: (suggestion.map { "did you mean '\($0)'? " } ?? "") + "layer kinds: \(kinds)"
                              + (blocks.isEmpty ? "" : "; blocks: \(blocks.keys.sorted().joined(separator: ", "))"))
    }

    private func reportTooDeep(at location: SourceLocation) {
        exceededLimit = true
        diagnostics.error("repeat and block uses are nested more than \(SpecLimits.maximumExpansionDepth) deep", at: location)
    }
}
