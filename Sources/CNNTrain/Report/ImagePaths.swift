import Foundation

/// `cnnspec predict`'s image arguments: files as given, folders walked recursively for picture files.
public enum ImagePaths {
    /// Extensions a folder's pictures are recognised by (lower case); a file named on the command line is
    /// tried whatever its name.
    public static let extensions: Set<String> = ["png", "jpg", "jpeg", "pgm", "ppm", "pnm", "bmp"]

    /// Every file of `paths` in order, a folder replaced by its picture files (recursively, hidden files and
    /// folders skipped, sorted by path, each written as the folder argument plus its path inside); how many
    /// other files the folders held; and the folders holding no picture.
    public static func expand(_ paths: [String]) -> (files: [String], skipped: Int, emptyFolders: [String]) {
        var files: [String] = []
        var skipped = 0
        var empty: [String] = []
        let manager = FileManager.default
        for path in paths {
            var isFolder: ObjCBool = false
            guard manager.fileExists(atPath: path, isDirectory: &isFolder), isFolder.boolValue else {
                files.append(path)  // a missing or unreadable file is reported when it is read
                continue
            }
            var found: [String] = []
            if let walker = manager.enumerator(atPath: path) {
                while let relative = walker.nextObject() as? String {
                    let full = (path as NSString).appendingPathComponent(relative)
                    let name = (relative as NSString).lastPathComponent
                    var entryIsFolder: ObjCBool = false
                    guard manager.fileExists(atPath: full, isDirectory: &entryIsFolder) else { continue }
                    if name.hasPrefix(".") {
                        if entryIsFolder.boolValue { walker.skipDescendants() }
                        continue
                    }
                    guard !entryIsFolder.boolValue else { continue }
                    if extensions.contains((name as NSString).pathExtension.lowercased()) {
                        found.append(full)
                    } else {
                        skipped += 1
                    }
                }
            }
            if found.isEmpty { empty.append(path) }
            files += found.sorted()
        }
        return (files, skipped, empty)
    }
}
