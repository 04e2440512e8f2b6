import CYAML
import Foundation

/// Parses YAML text with the system libyaml into a `YAMLNode` tree with source marks.
///
/// Built iteratively (no recursion), with limits on nesting depth and on alias expansion,
/// so hostile or accidental inputs give an error instead of a stack overflow.
public enum YAMLParser {
    /// Deepest nesting of lists and mappings accepted.
    public static let maximumDepth = 200
    /// Largest number of nodes a document may expand to once aliases are counted.
    public static let maximumExpandedNodes = 2_000_000

    /// Reads and parses a file; errors name the file.
    public static func parse(contentsOf path: String) throws(SpecError) -> YAMLNode {
        let unreadable = unreadableFileProblem(path)
        guard unreadable == nil, let data = FileManager.default.contents(atPath: path) else {
            throw SpecError(Diagnostic("cannot open '\(path)': \(unreadable ?? "it cannot be read")", at: nil))
        }
        return try parse(data, file: path)
    }

    /// Parses one YAML document from memory. An empty document is an empty mapping.
    public static func parse(_ text: String, file: String) throws(SpecError) -> YAMLNode {
        try parse(Data(text.utf8), file: file)
    }

    /// Parses one YAML document from bytes. An empty document is an empty mapping.
    public static func parse(_ data: Data, file: String) throws(SpecError) -> YAMLNode {
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else {
            throw SpecError(Diagnostic("libyaml could not be initialised", at: nil))
        }
        defer { yaml_parser_delete(&parser) }
        let bytes = [UInt8](data)
        return try bytes.withUnsafeBufferPointer { buffer throws(SpecError) -> YAMLNode in
            yaml_parser_set_input_string(&parser, buffer.baseAddress ?? UnsafePointer(bitPattern: 1), buffer.count)
            var builder = TreeBuilder(file: file)
            var documents = 0, firstDocumentEnded = false
            // The whole stream is read: content after the first document (a `---` or `...` line, or
            // text the first document's structure does not take) is an error, never silently dropped.
            while true {
                var event = yaml_event_t()
                guard yaml_parser_parse(&parser, &event) == 1 else {
                    // libyaml's "did not find expected <document start>" after a document: more content.
                    throw SpecError(firstDocumentEnded ? secondDocument(at: parser.problem_mark, file: file)
                                                       : syntaxError(parser, file: file))
                }
                defer { yaml_event_delete(&event) }
                if event.type == YAML_STREAM_END_EVENT { break }
                if event.type == YAML_DOCUMENT_END_EVENT { firstDocumentEnded = true }
                if event.type == YAML_DOCUMENT_START_EVENT {
                    documents += 1
                    if documents > 1 { throw SpecError(secondDocument(at: event.start_mark, file: file)) }
                }
                try builder.consume(event)
            }
            return builder.root ?? .mapping([], SourceLocation(file: file, line: 1, column: 1))
        }
    }

    private static func secondDocument(at mark: yaml_mark_t, file: String) -> Diagnostic {
        let location = SourceLocation(file: file, line: Int(mark.line) + 1, column: Int(mark.column) + 1)
        return Diagnostic("a second YAML document starts here; a file holds one document and nothing after it would be read",
                          at: location,
                          hint: "remove the '---' or '...' line, and start every top-level key in column 1")
    }

    private static func syntaxError(_ parser: yaml_parser_t, file: String) -> Diagnostic {
        let problem = parser.problem.map { String(cString: $0) } ?? "invalid YAML"
        let mark = parser.problem_mark
        let location = SourceLocation(file: file, line: Int(mark.line) + 1, column: Int(mark.column) + 1)
        var message = "YAML syntax: \(problem)"
        if let context = parser.context.map({ String(cString: $0) }) {
            message += " (\(context) at line \(Int(parser.context_mark.line) + 1))"
        }
        return Diagnostic(message, at: location,
                          hint: "check indentation (spaces, not tabs) and that every ':' in a value is quoted")
    }
}

/// Turns the libyaml event stream into a tree with an explicit stack.
///
/// Linear in the number of nodes: each open collection is a class instance whose arrays are appended
/// in place (an enum payload popped off the stack and re-pushed was copied on every append, which made
/// a 40,000-item list take 37 s), and a mapping's keys are kept in a dictionary for the duplicate check.
private struct TreeBuilder {
    private final class Frame {
        let isMapping: Bool
        let start: SourceLocation
        let anchor: String?
        var size = 1
        var items: [YAMLNode] = []
        var pairs: [(key: YAMLNode, value: YAMLNode)] = []
        var pendingKey: YAMLNode?
        /// First line of each scalar key, for the duplicate-key message.
        var keyLines: [String: Int] = [:]

        init(isMapping: Bool, start: SourceLocation, anchor: String?) {
            self.isMapping = isMapping; self.start = start; self.anchor = anchor
        }
    }

    let file: String
    var root: YAMLNode?
    private var stack: [Frame] = []
    private var anchors: [String: (node: YAMLNode, size: Int)] = [:]
    private var expandedNodes = 0

    init(file: String) { self.file = file }

    private func location(_ mark: yaml_mark_t) -> SourceLocation {
        SourceLocation(file: file, line: Int(mark.line) + 1, column: Int(mark.column) + 1)
    }

    private func string(_ pointer: UnsafeMutablePointer<yaml_char_t>?) -> String? {
        pointer.map { String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self)) }
    }

    mutating func consume(_ event: yaml_event_t) throws(SpecError) {
        let at = location(event.start_mark)
        switch event.type {
        case YAML_SCALAR_EVENT:
            let scalar = event.data.scalar
            let length = Int(scalar.length)
            let text: String = scalar.value.map {
                String(decoding: UnsafeBufferPointer(start: $0, count: length), as: UTF8.self)
            } ?? ""
            let quoted = scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE || scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE
            let node = YAMLNode.scalar(text, isQuoted: quoted, at)
            try add(node, size: 1, anchor: string(scalar.anchor))
        case YAML_ALIAS_EVENT:
            let name = string(event.data.alias.anchor) ?? ""
            guard let anchored = anchors[name] else {
                throw SpecError(Diagnostic("unknown alias '*\(name)'", at: at, hint: "define '&\(name)' before using it"))
            }
            try add(anchored.node, size: anchored.size, anchor: nil)
        case YAML_SEQUENCE_START_EVENT:
            try push(Frame(isMapping: false, start: at, anchor: string(event.data.sequence_start.anchor)), at: at)
        case YAML_MAPPING_START_EVENT:
            try push(Frame(isMapping: true, start: at, anchor: string(event.data.mapping_start.anchor)), at: at)
        case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
            guard let frame = stack.popLast() else { return }
            let node: YAMLNode = frame.isMapping ? .mapping(frame.pairs, frame.start) : .sequence(frame.items, frame.start)
            frame.items = []
            frame.pairs = []
            try add(node, size: frame.size, anchor: frame.anchor)
        default:
            break
        }
    }

    private mutating func push(_ frame: Frame, at: SourceLocation) throws(SpecError) {
        guard stack.count < YAMLParser.maximumDepth else {
            throw SpecError(Diagnostic("nesting deeper than \(YAMLParser.maximumDepth) levels", at: at,
                                       hint: "a model or config needs only a few levels of nesting"))
        }
        stack.append(frame)
    }

    private mutating func add(_ node: YAMLNode, size: Int, anchor: String?) throws(SpecError) {
        expandedNodes += size
        guard expandedNodes <= YAMLParser.maximumExpandedNodes else {
            throw SpecError(Diagnostic("the document expands to more than \(YAMLParser.maximumExpandedNodes) nodes",
                                       at: node.location, hint: "aliases ('*name') that repeat large blocks multiply the size"))
        }
        if let anchor { anchors[anchor] = (node, size) }
        guard let frame = stack.last else {
            root = node
            return
        }
        frame.size += size
        if !frame.isMapping {
            frame.items.append(node)
        } else if let key = frame.pendingKey {
            frame.pairs.append((key, node))
            frame.pendingKey = nil
        } else {
            if let text = node.scalarText {
                if let line = frame.keyLines[text] {
                    throw SpecError(Diagnostic("duplicate key '\(text)' (first at line \(line))",
                                               at: node.location, hint: "each key may appear once in a mapping"))
                }
                frame.keyLines[text] = node.location.line
            }
            frame.pendingKey = node
        }
    }
}
