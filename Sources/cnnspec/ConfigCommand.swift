import ArgumentParser
import CNNSpec

/// `cnnspec config`: the run-config keys, from the same declarations the config reader uses.
struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "List the run-config keys, explain one, or print a config with every default.",
        discussion: "The key table of docs/run-config.md is this command's --markdown output.")

    @Option(help: "A dotted key path, e.g. train.optimizer.lr: its type, default, valid values and what it does.")
    var explain: String?

    @Flag(help: "Print a complete config with every default and a comment per key.")
    var defaults = false

    @Flag(help: "Print the key table of docs/run-config.md.")
    var markdown = false

    func run() throws {
        guard [explain != nil, defaults, markdown].filter({ $0 }).count <= 1 else {
            printError("error: give at most one of --explain, --defaults, --markdown")
            throw ExitCode(1)
        }
        if let explain {
            guard let text = ConfigReference.explain(explain) else {
                let suggestion = ConfigReference.suggestion(for: explain)
                printError("error: unknown config key '\(explain)'" + (suggestion.map { "; did you mean '\($0)'?" } ?? "")
                           + "\n    hint: `cnnspec config` lists every key")
                throw ExitCode(1)
            }
            print(text, terminator: "")
        } else if defaults {
            print(ConfigReference.defaultsYAML(), terminator: "")
        } else if markdown {
            print(ConfigReference.markdownTable(), terminator: "")
        } else {
            print(ConfigReference.overview(), terminator: "")
        }
    }
}
