import Foundation

/// The per-layer summary printed by `cnnspec shapes`: shapes, parameters, MACs and memory totals.
///
/// The JSON form is a stable interface documented in docs/model-yaml.md.
public struct ShapeReport: Sendable {
    /// Output formats of `cnnspec shapes --format`.
    public enum Format: String, CaseIterable, Sendable {
        case table, json, markdown
    }

    /// Activation memory per image of the plans the executor builds (its memory planner decides it;
    /// this library only prints it): training (activations and gradients) and inference.
    public struct PlannedMemory: Sendable, Equatable {
        public var trainingBytesPerImage: Int
        public var inferenceBytesPerImage: Int

        public init(trainingBytesPerImage: Int, inferenceBytesPerImage: Int) {
            self.trainingBytesPerImage = trainingBytesPerImage
            self.inferenceBytesPerImage = inferenceBytesPerImage
        }
    }

    public var graph: ModelGraph
    /// The model file the graph came from, as given on the command line.
    public var file: String
    /// The planned figures, when the caller has them.
    public var plannedMemory: PlannedMemory?

    public init(graph: ModelGraph, file: String, plannedMemory: PlannedMemory? = nil) {
        self.graph = graph
        self.file = file
        self.plannedMemory = plannedMemory
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

    private var rows: [[String]] {
        graph.nodes.enumerated().map { index, node in
            [String(index), node.name, node.op.kindName, node.op.summary, node.outputShape.description,
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
        ] + (plannedMemory.map { planned in
            ["planned activation memory per image: training \(Self.bytes(planned.trainingBytesPerImage)) (with gradients), "
                + "inference \(Self.bytes(planned.inferenceBytesPerImage)) (buffers reused)"]
        } ?? [])
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
            fields.append(contentsOf: node.op.jsonFields.map { ($0.key, $0.value.text) })
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
        text += "\"parameter_bytes\": \(parameterBytes), \"activation_bytes\": \(activationBytes)"
        if let planned = plannedMemory {
            text += ", \"planned_training_activation_bytes\": \(planned.trainingBytesPerImage), "
                + "\"planned_inference_activation_bytes\": \(planned.inferenceBytesPerImage)"
        }
        text += "}\n"
        text += "}\n"
        return text
    }

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
