import CNNSpec
import Foundation

extension RunReport {
    /// `cnnspec report`'s work: every path must be a folder; folders that are not run folders stand for the
    /// run folders below them (`expand`). The page goes to `output`, else into the run folder when there is
    /// exactly one, else `./report.html`. Returns the file written.
    public static func write(paths: [String], output: String?, threads: Int = 0) throws -> URL {
        var folders: [URL] = []
        for path in paths {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw UserError("no such run folder", file: path)
            }
            folders.append(URL(fileURLWithPath: path).standardizedFileURL)
        }
        folders = expand(folders)
        let target = output.map { URL(fileURLWithPath: $0) }
            ?? (folders.count == 1 ? folders[0].appendingPathComponent(fileName) : URL(fileURLWithPath: fileName))
        return try write(runFolders: folders, to: target, threads: threads)
    }
}
