import CNNSpec
import Foundation
@testable import CNNTrain

/// A temp folder with a fake `cnnspec` (a bash script that acts like `cnnspec run` by writing a run
/// folder) so the sweep runner and Slurm script can be tested in milliseconds.
struct FakeCNNSpec {
    let root: URL
    let executable: URL
    /// Every invocation, one line each: the arguments joined by spaces.
    var calls: [String] {
        ((try? String(contentsOf: root.appendingPathComponent("calls.log"), encoding: .utf8)) ?? "")
            .split(separator: "\n").map(String.init)
    }

    /// The fake run: validation accuracy 1 − lr, test accuracy 0.5 + lr/10. A fresh run with lr 0.5
    /// "gets interrupted" the first time (saves resume state, exits 130); lr 0.7 runs until SIGINT.
    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("sweep-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        executable = root.appendingPathComponent("cnnspec")
        let script = """
            #!/bin/bash
            echo "$*" >> '\(root.path)/calls.log'
            folder=""; lr=""; resume=0
            while [ $# -gt 0 ]; do
              case "$1" in
                --resume) resume=1; folder="$2"; shift ;;
                --set) case "$2" in output.dir=*) folder="${2#output.dir=}" ;; train.optimizer.lr=*) lr="${2#train.optimizer.lr=}" ;; esac; shift ;;
              esac
              shift
            done
            mkdir -p "$folder"
            if [ $resume = 1 ]; then lr=$(cat "$folder/lr"); fi
            echo "$lr" > "$folder/lr"
            interrupt() {
              if [ -n "$sleeper" ]; then kill "$sleeper" 2>/dev/null; fi
              echo state > "$folder/resume.safetensors"
              printf '{"test_accuracy": null, "interrupted": true}' > "$folder/summary.json"
              exit 130
            }
            if [ $resume = 0 ] && [ "$lr" = 0.5 ]; then interrupt; fi
            if [ $resume = 0 ] && [ "$lr" = 0.7 ]; then
              trap interrupt INT
              sleep 20 & sleeper=$!
              wait $sleeper
            fi
            validation=$(awk "BEGIN { printf \\"%.6f\\", 1 - $lr }"); test=$(awk "BEGIN { printf \\"%.6f\\", 0.5 + $lr / 10 }")
            printf 'epoch,iteration,split,loss,accuracy,learning_rate,seconds,images_per_second\\n1,10,train,0.5,0.8,%s,4.0,100\\n1,10,validation,0.4,%s,%s,4.5,\\n' "$lr" "$validation" "$lr" > "$folder/metrics.csv"
            printf '{"test_accuracy": %s, "test_loss": 0.3, "interrupted": false, "iterations": 10}' "$test" > "$folder/summary.json"
            rm -f "$folder/resume.safetensors"
            """
        try Self.writeExecutable(script, to: executable)
    }

    /// Writes a script that tests then start. Not with `String.write(to:atomically:)`: Foundation keeps
    /// its write handle open, without close-on-exec, until after it has renamed the file into place, so a
    /// process that another test starts in that instant inherits it and keeps the script unexecutable
    /// ("Text file busy") for as long as it lives. `AtomicFile` closes a close-on-exec handle, then renames.
    static func writeExecutable(_ text: String, to url: URL) throws {
        try AtomicFile.write(text, to: url)
        chmod(url.path, 0o755)
    }

    /// A plan whose points vary the learning rate over `rates`, in `root`.
    func plan(rates: [String], metric: String = "best_validation_accuracy") throws -> SweepPlan {
        let text = "name: t\nbase: base.yaml\nmetric: \(metric)\noverrides: [train.iterations=10]\n"
            + "vary: {train.optimizer.lr: [\(rates.joined(separator: ", "))]}\n"
        let spec = try SweepSpecLoader.parse(text, file: root.appendingPathComponent("s.yaml").path)
        return SweepPlan(spec: spec, workingDirectory: root)
    }

    func remove() { try? FileManager.default.removeItem(at: root) }
}
