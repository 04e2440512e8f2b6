import Foundation

/// Why `path` cannot be read as an input file ("no such file", "it is a directory", "it is not a
/// regular file (a FIFO)"), or nil when it can.
///
/// The one check every input goes through before it is opened (YAML files, dataset files, images,
/// checkpoints). Symbolic links are followed. Only regular files pass: opening a FIFO blocks until a
/// writer appears, and a device such as /dev/zero or /dev/urandom never ends.
public func unreadableFileProblem(_ path: String) -> String? {
    var info = stat()
    guard stat(path, &info) == 0 else {
        let code = errno
        if code == ENOENT || code == ENOTDIR { return "no such file" }
        if code == EACCES { return "it cannot be read (permission denied)" }
        return "it cannot be read (\(String(cString: strerror(code))))"
    }
    let type = info.st_mode & S_IFMT
    if type == S_IFREG {
        return access(path, R_OK) == 0 ? nil : "it cannot be read (permission denied)"
    }
    if type == S_IFDIR { return "it is a directory" }
    let kind = type == S_IFIFO ? "a FIFO"
        : type == S_IFCHR ? "a character device"
        : type == S_IFBLK ? "a block device"
        : type == S_IFSOCK ? "a socket" : "a special file"
    return "it is not a regular file (\(kind))"
}
