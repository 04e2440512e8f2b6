/// CNNTrain builds on the layer kinds; users of the executor see their types (ParameterStore, BackendRequest…).
@_exported import CNNLayers
import Foundation

/// The cnnspec version written into run folders and checkpoint metadata.
public enum CNNSpecVersion {
    public static let string = "0.1.0"

    /// The git commit of the checkout this binary was built in, when it runs from one (`.build/<config>/`
    /// inside a git work tree, as `swift build` leaves it); nil for an installed copy.
    ///
    /// SwiftPM has no build-time hook to stamp the commit into the binary, so it is read at run time
    /// from the `.git` folder above the executable (HEAD, the branch ref or packed-refs; a worktree's
    /// `.git` file is followed), without running git. A checkout moved on without rebuilding reports
    /// its new commit. `+dirty` is not detected.
    public static let gitCommit: String? = {
        guard let executable = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") else { return nil }
        return commit(above: URL(fileURLWithPath: executable).deletingLastPathComponent())
    }()

    /// Folders above the executable searched for `.git`: `<checkout>/.build/<triple>/<config>/` is three.
    static let searchDepth = 5

    /// The commit `HEAD` names in the first git work tree at or above `folder`.
    static func commit(above folder: URL) -> String? {
        var current = folder.standardizedFileURL
        for _ in 0...searchDepth {
            let dotGit = current.appendingPathComponent(".git")
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: dotGit.path, isDirectory: &isDirectory) {
                return isDirectory.boolValue ? commit(gitDirectory: dotGit) : linkedGitDirectory(dotGit).flatMap(commit(gitDirectory:))
            }
            let parent = current.deletingLastPathComponent()
            if parent.path == current.path { break }
            current = parent
        }
        return nil
    }

    /// A worktree's `.git` file: `gitdir: PATH`.
    private static func linkedGitDirectory(_ file: URL) -> URL? {
        guard let text = try? String(contentsOf: file, encoding: .utf8), text.hasPrefix("gitdir:") else { return nil }
        let path = text.dropFirst("gitdir:".count).trimmingCharacters(in: .whitespacesAndNewlines)
        return URL(fileURLWithPath: path, relativeTo: file.deletingLastPathComponent()).standardizedFileURL
    }

    static func commit(gitDirectory: URL) -> String? {
        guard let head = try? String(contentsOf: gitDirectory.appendingPathComponent("HEAD"), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines) else { return nil }
        guard head.hasPrefix("ref:") else { return isHash(head) ? head : nil }
        let ref = head.dropFirst("ref:".count).trimmingCharacters(in: .whitespaces)
        // A linked worktree keeps HEAD in its own folder but the refs in the main repository's (`commondir`).
        var folders = [gitDirectory]
        if let common = try? String(contentsOf: gitDirectory.appendingPathComponent("commondir"), encoding: .utf8) {
            folders.append(URL(fileURLWithPath: common.trimmingCharacters(in: .whitespacesAndNewlines), relativeTo: gitDirectory).standardizedFileURL)
        }
        for folder in folders {
            if let loose = try? String(contentsOf: folder.appendingPathComponent(ref), encoding: .utf8)
                .trimmingCharacters(in: .whitespacesAndNewlines), isHash(loose) { return loose }
            if let packed = try? String(contentsOf: folder.appendingPathComponent("packed-refs"), encoding: .utf8) {
                for line in packed.split(separator: "\n") where line.hasSuffix(" " + ref) {
                    let hash = String(line.prefix { $0 != " " })
                    if isHash(hash) { return hash }
                }
            }
        }
        return nil
    }

    private static func isHash(_ text: String) -> Bool {
        text.count >= 40 && text.allSatisfy(\.isHexDigit)
    }

    /// `0.1.0 (commit 1a2b3c4d5e6f)` or `0.1.0`.
    public static var described: String {
        gitCommit.map { "\(string) (commit \($0.prefix(12)))" } ?? string
    }
}
