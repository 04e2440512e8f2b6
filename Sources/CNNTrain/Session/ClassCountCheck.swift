import CNNSpec
import Foundation

/// The dataset's class count against the model's outputs, checked before any image is decoded: a
/// folder dataset's classes are its `train/` folder names, an npy dataset's its label files, the
/// built-in datasets have ten. A mismatch names the fix — `model.args.classes` when the model file
/// declares it, else the last layer's `out`.
extension Experiment {
    /// How many classes `data` has, read from folder names or label files only (no image is decoded).
    public static func classCount(of data: DataConfig) throws(DataError) -> Int {
        switch data.dataset {
        case .mnist, .fashionMNIST, .cifar10:
            return Dataset.classNames(of: data.dataset).count
        case .folder:
            guard let root = data.root else { throw DataError("a folder dataset needs data.root, the folder holding train/ and test/") }
            return try FolderDataset.classNames(root: root).count
        case .npy:
            guard let root = data.root else { throw DataError("an npy dataset needs data.root, the folder holding x_train.npy …") }
            func labelsMax(_ name: String) throws(DataError) -> Int32 {
                try NPYFile.labels(path: (root as NSString).appendingPathComponent(name)).max() ?? 0
            }
            let train = try labelsMax("y_train.npy")
            let test = try labelsMax("y_test.npy")
            return Int(max(train, test)) + 1
        }
    }

    /// Refuses a dataset whose class count differs from the model's outputs, before decoding.
    public func checkClassCount() throws {
        let classes = try Self.classCount(of: config.data)
        let outputs = graph.outputShape.elementCount
        guard classes != outputs else { return }
        let declaresClasses = (try? YAMLParser.parse(contentsOf: config.modelPath))?["args"]?["classes"] != nil
        let hint = declaresClasses
            ? "the model file declares 'classes': write model: {file: \(config.modelPath), args: {classes: \(classes)}} "
                + "or add --set model.args.classes=\(classes)"
            : "make the last layer `out: \(classes)`, or declare `args: {classes: \(outputs)}` at the top of \(config.modelPath), "
                + "write `out: $classes` in the last layer and pass model.args.classes"
        throw UserError("\(config.data.dataset.rawValue) has \(classes) classes but the model's last layer gives \(outputs) outputs",
                        at: config.locations["model"] ?? SourceLocation(file: config.configPath), hint: hint)
    }
}
