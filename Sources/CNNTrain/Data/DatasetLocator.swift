import CNNSpec
import Foundation

/// Finds and loads a dataset's training and test files.
///
/// Search order: the config's `data.root` when given (made absolute against the config file's folder), else
/// `data/<dataset>` under the current directory, then the system folder of Debian's package
/// (`/usr/share/datasets/fashion-mnist` for Fashion-MNIST). File names may end in `.gz`.
public enum DatasetLocator {
    /// The folder of Debian's `dataset-fashion-mnist` package.
    public static let systemFashionMNIST = "/usr/share/datasets/fashion-mnist"

    /// Folders searched for `dataset`, in order.
    public static func searchFolders(for dataset: DatasetName, root: String?) -> [String] {
        if let root { return [root] }
        var folders = ["data/\(dataset.rawValue)"]
        if dataset == .fashionMNIST { folders.append(systemFashionMNIST) }
        return folders
    }

    /// The command that puts `dataset` in place.
    public static func fetchCommand(for dataset: DatasetName, root: String?) -> String {
        "scripts/fetch-data \(dataset.rawValue)" + (root.map { " --root \($0)" } ?? "")
    }

    /// Loads the training and test sets; errors name every file looked for and the fetch command.
    public static func load(_ dataset: DatasetName, root: String?) throws(DataError) -> (train: Dataset, test: Dataset) {
        let folders = searchFolders(for: dataset, root: root)
        switch dataset {
        case .mnist, .fashionMNIST:
            let parts = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]
            let paths = try find(parts, variants: { [$0, $0 + ".gz", $0.replacingOccurrences(of: "-idx", with: ".idx")] },
                                 in: folders, dataset: dataset, root: root)
            let train = try idxDataset(images: paths[0], labels: paths[1], dataset: dataset, split: "train")
            let test = try idxDataset(images: paths[2], labels: paths[3], dataset: dataset, split: "test")
            return (train, test)
        case .cifar10:
            let parts = (1...5).map { "data_batch_\($0).bin" } + ["test_batch.bin"]
            let paths = try find(parts, variants: { [$0, $0 + ".gz"] }, in: folders, dataset: dataset, root: root)
            let train = try cifarDataset(Array(paths[0..<5]), split: "train")
            let test = try cifarDataset([paths[5]], split: "test")
            return (train, test)
        case .folder, .npy:
            // invariant: TrainingData.load reads these through FolderDataset / NPYDataset
            throw DataError("the \(dataset.rawValue) dataset is read by TrainingData.load, not DatasetLocator")
        }
    }

    /// The first folder holding every part (in any variant); else an error listing what was tried.
    private static func find(_ parts: [String], variants: (String) -> [String], in folders: [String],
                             dataset: DatasetName, root: String?) throws(DataError) -> [String] {
        let manager = FileManager.default
        for folder in folders {
            let found = parts.compactMap { part in
                variants(part).map { (folder as NSString).appendingPathComponent($0) }.first { manager.fileExists(atPath: $0) }
            }
            if found.count == parts.count { return found }
        }
        let tried = folders.map { "\(absolutePath($0))/{\(parts.joined(separator: ","))}[.gz]" }.joined(separator: ", ")
        throw DataError("the \(dataset.rawValue) dataset is missing: looked for \(tried)",
                        hint: "run '\(fetchCommand(for: dataset, root: root))'"
                            + (dataset == .cifar10 ? " (needs internet; see docs/run-config.md)" : ""))
    }

    private static func idxDataset(images: String, labels: String, dataset: DatasetName,
                                   split: String) throws(DataError) -> Dataset {
        let imageFile = try IDXFile.readImages(path: images)
        let labelBytes = try IDXFile.readLabels(path: labels, classCount: 10)
        guard labelBytes.count == imageFile.count else {
            throw DataError("\(labels): \(labelBytes.count) labels but \(images) has \(imageFile.count) images",
                            hint: "the two files belong to different sets; fetch them again")
        }
        return try Dataset(name: "\(dataset.rawValue) \(split)", images: imageFile.pixels, labels: labelBytes.map(Int32.init),
                           channels: 1, height: imageFile.rows, width: imageFile.columns,
                           classNames: Dataset.classNames(of: dataset), imageFiles: [absolutePath(images)])
    }

    private static func cifarDataset(_ paths: [String], split: String) throws(DataError) -> Dataset {
        var pixels: [UInt8] = []
        var labels: [Int32] = []
        for path in paths {
            let batch = try CIFAR10File.read(path: path)
            pixels += batch.pixels
            labels += batch.labels.map(Int32.init)
        }
        return try Dataset(name: "cifar10 \(split)", images: pixels, labels: labels, channels: 3, height: 32, width: 32,
                           classNames: Dataset.classNames(of: .cifar10), imageFiles: paths.map(absolutePath))
    }

    /// `path` made absolute against the current directory, as messages name dataset files.
    private static func absolutePath(_ path: String) -> String {
        URL(fileURLWithPath: path).standardizedFileURL.path
    }
}
