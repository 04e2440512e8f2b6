import ArgumentParser
import CNNLayers
import CNNSpec

/// `cnnspec layers [KIND]`: the layer kinds and their keys, from the same definitions the parser reads.
struct LayersCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "layers",
        abstract: "List the layer kinds a model file may use, or one kind's keys, types and defaults.",
        discussion: "docs/layers.md is this command's --format markdown output; --format json-fields prints the "
            + "kind-specific fields of `shapes --format json`, as docs/model-yaml.md lists them.")

    @Argument(help: "A layer kind (or one of its spellings); all kinds when omitted.")
    var kind: String?

    @Option(help: "Output format: text, markdown or json-fields.")
    var format: String = "text"

    func run() throws {
        let reference = LayerReference(catalog: .standard)
        guard ["text", "markdown", "json-fields"].contains(format) else {
            printError("error: --format must be text, markdown or json-fields, got '\(format)'")
            throw ExitCode(1)
        }
        guard let kind else {
            let text = switch format {
            case "markdown": reference.markdown()
            case "json-fields": reference.jsonFieldsMarkdown()
            default: reference.overview()
            }
            print(text, terminator: "")
            return
        }
        guard let definition = LayerCatalog.standard.definition(named: kind) else {
            let suggestion = DidYouMean.suggestion(for: kind, among: LayerCatalog.standard.allSpellings)
            printError("error: unknown layer kind '\(kind)'" + (suggestion.map { "; did you mean '\($0)'?" } ?? "")
                       + "\n    hint: layer kinds: \(LayerCatalog.standard.names.joined(separator: ", "))")
            throw ExitCode(1)
        }
        print(reference.section(definition), terminator: "")
    }
}
