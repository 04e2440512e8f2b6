/// Computes every layer's output shape, parameter count and MACs through its kind's shape rule, and
/// keeps the model-wide totals far from overflow.
struct ShapeInference {
    let diagnostics: DiagnosticCollector
    let catalog: LayerCatalog

    /// Largest model-wide total of parameters, MACs or activation elements; totals in bytes stay far below `Int.max`.
    static let maximumTotal = 1 << 56
    /// The kind inserted in front of a layer that flattens feature maps (`linear` reading a feature map).
    static let flattenKind = "flatten"

    /// The graph, or nil when a shape could not be inferred (the reasons are in `diagnostics`).
    func infer(modelName: String, input: TensorShape?, inputLocation: SourceLocation?, layers: [ResolvedLayer]) -> ModelGraph? {
        guard let input else { return nil }
        var nodes = [GraphNode(name: "input", op: InputOperation(), inputs: [], outputShape: input, parameterCount: 0, macs: 0,
                               location: inputLocation)]
        var usedNames = Set(layers.map(\.name)).union(["input"])
        // nodeOf[i]: node index of layer i (0 = input), nil when its shape is unknown.
        var nodeOf: [Int?] = [0]
        var complete = true
        var totals = (parameters: 0, macs: 0, elements: input.elementCount)
        var reportedTotal = false

        func add(_ name: String, _ arguments: LayerArguments, sources: [Int], location: SourceLocation?) -> Int? {
            let inputs = sources.map { source in
                let node = nodes[source]
                let origin = node.op.isView && node.outputShape.dimensions.count == 1 && !node.inputs.isEmpty
                    && nodes[node.inputs[0]].outputShape.dimensions.count == 3
                    ? " (\(nodes[node.inputs[0]].outputShape) flattened)" : ""
                return ShapeContext.Input(name: node.name, shape: node.outputShape, origin: origin)
            }
            let context = ShapeContext(name: name, location: location, inputs: inputs, arguments: arguments, diagnostics: diagnostics)
            guard let result = arguments.definition.infer(arguments, context) else { return nil }
            var parameters = 0
            for declaration in result.operation.parameters where declaration.isTrainable {
                guard let tensor = CheckedArithmetic.elementCount(declaration.shape), let sum = CheckedArithmetic.sum(parameters, tensor) else {
                    parameters = Int.max
                    break
                }
                parameters = sum
            }
            guard parameters != Int.max,
                  let totalParameters = CheckedArithmetic.sum(totals.parameters, parameters),
                  let macs = CheckedArithmetic.sum(totals.macs, result.macs),
                  let elements = CheckedArithmetic.sum(totals.elements, 2 * result.shape.elementCount),
                  max(totalParameters, macs, elements) <= Self.maximumTotal else {
                if !reportedTotal {
                    diagnostics.error("\(name): the model's total parameters, MACs or activations exceed 2^56", at: location,
                                      hint: "check the channel counts, feature sizes and input size")
                }
                reportedTotal = true
                return nil
            }
            totals = (totalParameters, macs, elements)
            nodes.append(GraphNode(name: name, op: result.operation, inputs: sources, outputShape: result.shape,
                                   parameterCount: parameters, macs: result.macs, location: location))
            return nodes.count - 1
        }

        for layer in layers {
            let inputNodes = layer.inputs.map { $0 < nodeOf.count ? nodeOf[$0] : nil }
            guard let arguments = layer.arguments, !inputNodes.contains(where: { $0 == nil }) else {
                nodeOf.append(nil)
                complete = false
                continue
            }
            var sources = inputNodes.compactMap { $0 }
            if arguments.definition.flattensFeatureMaps, sources.count == 1, case .image = nodes[sources[0]].outputShape,
               let flatten = catalog.definition(named: Self.flattenKind) {
                var flattenName = "flatten_\(layer.name)"
                while usedNames.contains(flattenName) { flattenName += "_" }
                usedNames.insert(flattenName)
                guard let node = add(flattenName, LayerArguments(definition: flatten, written: [:]), sources: sources,
                                     location: layer.location) else {
                    nodeOf.append(nil)
                    complete = false
                    continue
                }
                sources = [node]
            }
            guard let node = add(layer.name, arguments, sources: sources, location: layer.location) else {
                nodeOf.append(nil)
                complete = false
                continue
            }
            nodeOf.append(node)
        }
        return complete ? ModelGraph(name: modelName, nodes: nodes) : nil
    }
}
