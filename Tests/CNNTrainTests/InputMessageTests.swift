import CNNSpec
import Foundation
import Testing
@testable import CNNTrain

/// Holds what a background thread returns, read after the semaphore is signalled.
private final class ThreadResult<T>: @unchecked Sendable {
    var value: T?
}

/// `body`'s result, run on its own thread; nil when it has not returned within 10 s, after which
/// `fifo` is opened for writing and closed, so that an `open()` stuck on it returns and the thread ends.
private func returning<T>(within fifo: String, _ body: @escaping @Sendable () -> T) -> T? {
    let result = ThreadResult<T>()
    let done = DispatchSemaphore(value: 0)
    Thread.detachNewThread {
        result.value = body()
        done.signal()
    }
    guard done.wait(timeout: .now() + 10) == .success else {
        let writer = open(fifo, O_WRONLY | O_NONBLOCK)
        if writer >= 0 { close(writer) }
        return nil
    }
    return result.value
}

/// A folder with a FIFO `fifo` and a symlink `link` to it.
private func folderWithFIFO() throws -> (folder: DataTestFolder, fifo: String, link: String) {
    let folder = try DataTestFolder()
    let fifo = folder.path("fifo")
    try #require(mkfifo(fifo, 0o644) == 0)
    try FileManager.default.createSymbolicLink(atPath: folder.path("link"), withDestinationPath: fifo)
    return (folder, fifo, folder.path("link"))
}

@Suite struct InputMessageTests {
    /// An MNIST file that is a FIFO, or a symlink to one, is refused before it is opened (gzopen would block).
    @Test(arguments: ["train-images-idx3-ubyte", "t10k-labels-idx1-ubyte"])
    func mnistFileThatIsAFIFOIsRefusedNotWaitedOn(_ part: String) throws {
        let (folder, _, _) = try folderWithFIFO()
        defer { folder.remove() }
        let root = folder.url.appendingPathComponent("mnist")
        try DataTestFolder.writeTinyMNIST(into: root)
        let target = root.appendingPathComponent(part).path
        try FileManager.default.removeItem(atPath: target)
        // The images are a FIFO; the labels a symlink to one.
        if part.contains("images") {
            try #require(mkfifo(target, 0o644) == 0)
        } else {
            try FileManager.default.createSymbolicLink(atPath: target, withDestinationPath: folder.path("fifo"))
        }
        let text = returning(within: target) { () -> String in
            do { _ = try DatasetLocator.load(.mnist, root: root.path); return "loaded" } catch { return "\(error)" }
        }
        #expect(text == "error: \(target): cannot read the file: it is not a regular file (a FIFO)")
    }

    /// YAML files (model, config, sweep) go through the same check.
    @Test func yamlFileThatIsAFIFOIsRefused() throws {
        let (folder, fifo, link) = try folderWithFIFO()
        defer { folder.remove() }
        for path in [fifo, link] {
            let text = returning(within: fifo) { () -> String in
                do { _ = try YAMLParser.parse(contentsOf: path); return "parsed" } catch { return "\(error)" }
            }
            #expect(text == "error: cannot open '\(path)': it is not a regular file (a FIFO)")
        }
    }

    /// `predict` on a device or a FIFO says it is not a regular file, not that it is empty.
    @Test func picturesThatAreNotRegularFilesSaySo() throws {
        let (folder, fifo, link) = try folderWithFIFO()
        defer { folder.remove() }
        let cases = [("/dev/zero", "a character device"), ("/dev/urandom", "a character device"), (fifo, "a FIFO"), (link, "a FIFO")]
        for (path, kind) in cases {
            let text = returning(within: fifo) { () -> String in
                do { _ = try ImageFile.readBytes(path: path); return "read" } catch { return "\(error)" }
            }
            #expect(text == "\(path): error: cannot read the file: it is not a regular file (\(kind))")
        }
    }

    /// Training and test images of different sizes: the message names both files by full path.
    @Test func mismatchedIDXFilesAreNamed() throws {
        let folder = try DataTestFolder()
        defer { folder.remove() }
        let root = folder.url.appendingPathComponent("mnist")
        try DataTestFolder.writeTinyMNIST(into: root)
        try Data(DataTestFolder.idxImages(count: 16, rows: 4, columns: 16))
            .write(to: root.appendingPathComponent("t10k-images-idx3-ubyte"))
        #expect {
            _ = try TrainingData.load(DataConfig(dataset: .mnist, root: root.path, validationSplit: 0), seed: 0)
        } throws: { error in
            let train = root.appendingPathComponent("train-images-idx3-ubyte").standardizedFileURL.path
            let test = root.appendingPathComponent("t10k-images-idx3-ubyte").standardizedFileURL.path
            return String(describing: error).hasPrefix("error: training images are 1×8×8 (\(train)) but test images are 1×4×16 (\(test))")
        }
    }

    /// A full disk while saving says so (ENOSPC) and where; /dev/full fails every write with ENOSPC.
    @Test func aFullDiskIsReportedAsSuch() throws {
        let descriptor = open("/dev/full", O_WRONLY)
        try #require(descriptor >= 0)
        defer { close(descriptor) }
        let code = try #require(AtomicFile.writeAll(Data([1, 2, 3]), to: descriptor))
        #expect(code == ENOSPC)
        let folder = URL(fileURLWithPath: "/data/runs/modelA")
        let error = CheckpointError(path: "/data/runs/modelA/last.safetensors", problem: AtomicFile.reason(errno: code, in: folder),
                                    isWrite: true)
        #expect(error.description == "/data/runs/modelA/last.safetensors: error: cannot write the checkpoint: the disk is full "
            + "(ENOSPC): no space left on the file system holding /data/runs/modelA")
    }
}
