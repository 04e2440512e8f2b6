/// Gives every expanded layer its unique name and turns `from:` references into input indices.
struct LayerResolver {
    let diagnostics: DiagnosticCollector

    /// Names written in the file win; unnamed layers get `conv1`, `fc2`, `bn1`… (counted per kind and scope).
    func assignNames(_ layers: inout [PendingLayer]) {
        var firstUse: [String: SourceLocation] = [:]
        for index in layers.indices {
            guard let name = layers[index].explicitName else { continue }
            if let first = firstUse[name] {
                diagnostics.error("the layer name '\(name)' is used twice (first at line \(first.line))", at: layers[index].location,
                                  hint: "names must be unique; inside a repeat, give the repeat a name so each copy gets a prefix")
                layers[index].isWellFormed = false
            } else {
                firstUse[name] = layers[index].location
            }
            layers[index].name = name
        }
        var counters: [String: Int] = [:]
        for index in layers.indices where layers[index].explicitName == nil {
            guard let kind = layers[index].kind else { continue }  // invariant: only index 0 has no kind, and it is named
            let stem = layers[index].prefixes[0] + kind.autoNameStem
            var count = counters[stem] ?? 0
            var candidate: String
            repeat {
                count += 1
                candidate = "\(stem)\(count)"
            } while firstUse[candidate] != nil
            counters[stem] = count
            firstUse[candidate] = layers[index].location
            layers[index].name = candidate
        }
    }

    /// The indices each layer reads, or nil where a reference could not be resolved (already reported).
    func resolveInputs(_ layers: [PendingLayer]) -> [[Int]?] {
        var index: [String: Int] = [:]
        for (position, layer) in layers.enumerated() where index[layer.name] == nil { index[layer.name] = position }
        var result: [[Int]?] = [[]]
        for position in layers.indices.dropFirst() {
            let layer = layers[position]
            guard let kind = layer.kind else { result.append(nil); continue }  // invariant: unreachable past index 0
            guard let from = layer.from else {
                if kind.arity == .merge {
                    diagnostics.error("\(layer.name): \(kind.name) needs 'from' to say which layers it merges", at: layer.location,
                                      hint: "write - \(kind.name): {from: [branch1, branch2]}; with one name, the layer before is merged with it")
                    result.append(nil)
                } else {
                    result.append([layer.previous])
                }
                continue
            }
            var inputs: [Int] = []
            var resolved = true
            for reference in from {
                if let target = resolve(reference.text, in: layer, at: position, index: index, layers: layers, location: reference.location) {
                    inputs.append(target)
                } else {
                    resolved = false
                }
            }
            guard resolved else { result.append(nil); continue }
            if kind.arity == .merge {
                if inputs.count == 1 { inputs.insert(layer.previous, at: 0) }
            } else if inputs.count > 1 {
                diagnostics.error("\(layer.name): \(kind.name) takes one input, but 'from' names \(inputs.count)",
                                  at: from[1].location, hint: "merge them first with add or concat")
                result.append(nil)
                continue
            }
            result.append(inputs)
        }
        return result
    }

    private func resolve(_ text: String, in layer: PendingLayer, at position: Int, index: [String: Int],
                         layers: [PendingLayer], location: SourceLocation) -> Int? {
        if text == "input" { return layer.scopeInput }
        for prefix in layer.prefixes {
            guard let target = index[prefix + text] else { continue }
            if target < position { return target }
            diagnostics.error("\(layer.name): 'from: \(text)' names \(target == position ? "this layer itself" : "a later layer")",
                              at: location, hint: "a layer can only read layers written before it")
            return nil
        }
        let earlier = layers[0..<position].map(\.name)
        let local = earlier.compactMap { name in layer.prefixes.first { !$0.isEmpty && name.hasPrefix($0) }.map { String(name.dropFirst($0.count)) } }
        let suggestion = DidYouMean.suggestion(for: text, among: earlier + local)
        diagnostics.error("\(layer.name): 'from' names '\(text.prefix(80))', but no earlier layer has that name", at: location,
                          hint: suggestion.map { "did you mean '\($0)'?" } ?? "name the layer with 'name: \(text.prefix(80))' or use 'input'")
        return nil
    }
}
