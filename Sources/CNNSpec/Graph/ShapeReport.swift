import Foundation

/// The per-layer summary printed by `cnnspec shapes`: shapes, parameters, MACs and memory totals.
///
/// The JSON form is a stable interface documented in docs/model-yaml.md.
public struct ShapeReport: Sendable {
    /// Output formats of `cnnspec shapes --format`.
    public enum Format: String, CaseIterable, Sendable {
        case table, json, markdown
    }

    public var graph: ModelGraph
    /// The model file the graph came from, as given on the command line.
    public var file: String

    public init(graph: ModelGraph, file: String) {
        self.graph = graph
        self.file = file
    }

    /// Bytes of Float32 parameters.
    public var parameterBytes: Int { graph.totalParameters * 4 }
    /// Bytes of Float32 activations one image's forward pass keeps (every node's output, the input included).
    public var activationBytes: Int { graph.nodes.reduce(0) { $0 + $1.outputShape.elementCount } * 4 }

    public func render(_ format: Format) -> String {
        switch format {
        case .table: return renderTable()
        case .json: return renderJSON()
        case .markdown: return renderMarkdown()
        }
    }

    /// `k5 s1 p2` for windows, `p 0.25` for dropout, and so on; empty when the layer has none.
    public static func hyperparameters(_ op: LayerOp) -> String {
        switch op {
        case .conv2d(let conv): return "k\(conv.kernel) s\(conv.stride) p\(conv.padding)" + (conv.bias ? "" : " no-bias")
        case .maxPool2d(let pool), .avgPool2d(let pool): return "k\(pool.kernel) s\(pool.stride) p\(pool.padding)"
        case .leakyRelu(let slope): return "slope \(slope)"
        case .dropout(let p), .dropout2d(let p): return "p \(p)"
        case .linear(_, _, let bias): return bias ? "" : "no-bias"
        case .batchNorm2d(_, let eps, let momentum): return "eps \(eps) m \(momentum)"
        default: return ""
        }
    }

    private var rows: [[String]] {
        graph.nodes.enumerated().map { index, node in
            [String(index), node.name, node.op.kindName, Self.hyperparameters(node.op), node.outputShape.description,
             Self.grouped(node.parameterCount), Self.grouped(node.macs)]
        }
    }

    private static let headers = ["#", "name", "kind", "k/s/p", "output", "params", "MACs"]
    private static let rightAligned: Set<Int> = [0, 5, 6]

    private var totalLines: [String] {
        [
            "parameters: \(Self.grouped(graph.totalParameters))",
            "MACs per image: \(Self.grouped(graph.totalMACs))",
            "parameter memory: \(Self.bytes(parameterBytes)) (float32)",
            "activation memory per image: \(Self.bytes(activationBytes)) (float32, all layer outputs)",
        ]
    }

    private func renderTable() -> String {
        let all = [Self.headers] + rows
        let widths = (0..<Self.headers.count).map { column in all.map { $0[column].count }.max() ?? 0 }
        func line(_ row: [String]) -> String {
            row.enumerated().map { column, cell in
                let pad = String(repeating: " ", count: widths[column] - cell.count)
                return Self.rightAligned.contains(column) ? pad + cell : cell + pad
            }.joined(separator: "  ").trimmingTrailingSpaces()
        }
        var text = "model \(graph.name) (\(file)), input \(graph.inputShape)\n"
        text += line(Self.headers) + "\n"
        text += String(repeating: "-", count: widths.reduce(0, +) + 2 * (widths.count - 1)) + "\n"
        text += rows.map(line).joined(separator: "\n") + "\n\n"
        text += totalLines.joined(separator: "\n") + "\n"
        return text
    }

    private func renderMarkdown() -> String {
        var text = "### \(graph.name)\n\nInput \(graph.inputShape) (`\(file)`)\n\n"
        text += "| " + Self.headers.joined(separator: " | ") + " |\n"
        text += "|" + Self.headers.indices.map { Self.rightAligned.contains($0) ? "---:" : "---" }.joined(separator: "|") + "|\n"
        for row in rows {
            text += "| " + row.map { $0.isEmpty ? " " : $0.replacingOccurrences(of: "|", with: "\\|") }.joined(separator: " | ") + " |\n"
        }
        text += "\n" + totalLines.map { "- " + $0 }.joined(separator: "\n") + "\n"
        return text
    }

    private func renderJSON() -> String {
        var layers: [String] = []
        for (index, node) in graph.nodes.enumerated() {
            var fields: [(String, String)] = [
                ("index", String(index)),
                ("name", JSONText.quoted(node.name)),
                ("kind", JSONText.quoted(node.op.kindName)),
                ("inputs", "[" + node.inputs.map { JSONText.quoted(graph.nodes[$0].name) }.joined(separator: ", ") + "]"),
                ("output", Self.jsonArray(node.outputShape.dimensions)),
                ("parameters", String(node.parameterCount)),
                ("macs", String(node.macs)),
            ]
            fields.append(contentsOf: Self.jsonHyperparameters(node.op))
            if let location = node.location { fields.append(("line", String(location.line))) }
            layers.append("    {" + fields.map { "\(JSONText.quoted($0.0)): \($0.1)" }.joined(separator: ", ") + "}")
        }
        var text = "{\n"
        text += "  \"format\": \"cnnspec-shapes/1\",\n"
        text += "  \"model\": \(JSONText.quoted(graph.name)),\n"
        text += "  \"file\": \(JSONText.quoted(file)),\n"
        text += "  \"input\": \(Self.jsonArray(graph.inputShape.dimensions)),\n"
        text += "  \"output\": \(Self.jsonArray(graph.outputShape.dimensions)),\n"
        text += "  \"layers\": [\n" + layers.joined(separator: ",\n") + "\n  ],\n"
        text += "  \"totals\": {\"parameters\": \(graph.totalParameters), \"macs\": \(graph.totalMACs), "
        text += "\"parameter_bytes\": \(parameterBytes), \"activation_bytes\": \(activationBytes)}\n"
        text += "}\n"
        return text
    }

    private static func jsonHyperparameters(_ op: LayerOp) -> [(String, String)] {
        func pair(_ p: Pair2D) -> String { jsonArray([p.height, p.width]) }
        switch op {
        case .conv2d(let conv):
            var fields = [("in_channels", String(conv.inChannels)), ("out_channels", String(conv.outChannels)),
                          ("kernel", pair(conv.kernel)), ("stride", pair(conv.stride)), ("padding", pair(conv.padding)),
                          ("bias", String(conv.bias))]
            if let backend = conv.backend { fields.append(("backend", JSONText.quoted(backend))) }
            return fields
        case .maxPool2d(let pool):
            return [("kernel", pair(pool.kernel)), ("stride", pair(pool.stride)), ("padding", pair(pool.padding))]
        case .avgPool2d(let pool):
            return [("kernel", pair(pool.kernel)), ("stride", pair(pool.stride)), ("padding", pair(pool.padding)),
                    ("count_include_pad", String(pool.countIncludePad))]
        case .linear(let inFeatures, let outFeatures, let bias):
            return [("in_features", String(inFeatures)), ("out_features", String(outFeatures)), ("bias", String(bias))]
        case .leakyRelu(let slope): return [("negative_slope", jsonNumber(slope))]
        case .dropout(let p), .dropout2d(let p): return [("p", jsonNumber(p))]
        case .batchNorm2d(let channels, let eps, let momentum):
            return [("channels", String(channels)), ("eps", jsonNumber(eps)), ("momentum", jsonNumber(momentum))]
        default: return []
        }
    }

    private static func jsonNumber(_ value: Float) -> String { value.isFinite ? "\(value)" : "null" }
    private static func jsonArray(_ values: [Int]) -> String { "[" + values.map(String.init).joined(separator: ", ") + "]" }
    /// `61,706`.
    public static func grouped(_ value: Int) -> String {
        let digits = String(value.magnitude)
        var result = ""
        for (offset, character) in digits.enumerated() {
            if offset > 0 && (digits.count - offset) % 3 == 0 { result.append(",") }
            result.append(character)
        }
        return (value < 0 ? "-" : "") + result
    }

    /// `113.0 KiB`, `527.8 MiB`.
    public static func bytes(_ count: Int) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(count)
        var unit = 0
        while value >= 1024 && unit < units.count - 1 { value /= 1024; unit += 1 }
        if unit == 0 { return "\(count) B" }
        let rounded = (value * 10).rounded() / 10
        return "\(rounded) \(units[unit])"
    }
}

private extension String {
    func trimmingTrailingSpaces() -> String {
        var copy = self
        while copy.last == " " { copy.removeLast() }
        return copy
    }
}
