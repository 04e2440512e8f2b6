import Foundation

/// The one entry point for reading a checkpoint's tensors: every command that takes a checkpoint
/// (`eval --checkpoint`, `predict`, `export`, `report`) and `train.init` read through it. The format is
/// decided by the content, not the extension: a zip archive is a PyTorch `torch.save` file
/// (`PyTorchCheckpoint`), a bare pickle is a legacy PyTorch file (refused with how to convert it),
/// anything else is safetensors (`SafetensorsFile`).
public enum CheckpointFile {
    /// The formats read.
    public enum Format: String, Sendable { case safetensors, pytorch = "PyTorch (torch.save)" }

    /// What a checkpoint may be, for hints.
    public static let validFormats = "a .safetensors file (cnnspec's or safetensors.torch.save_file's) or a PyTorch state_dict "
        + "saved by torch.save (PyTorch ≥ 1.6)"

    /// The file's format from its first bytes, nil when it cannot be read.
    public static func format(of url: URL) -> Format? {
        guard let handle = try? FileHandle(forReadingFrom: url) else { return nil }
        defer { try? handle.close() }
        guard let head = try? handle.read(upToCount: 4) else { return nil }
        return PyTorchCheckpoint.isZip(head) ? .pytorch : .safetensors
    }

    /// Reads `url`'s tensors and metadata (a PyTorch file has none). `key` names the entry of a PyTorch
    /// checkpoint dict that holds the state_dict (`--checkpoint-key`, `train.init.key`); nil detects it.
    public static func read(from url: URL, key: String? = nil) throws(CheckpointError) -> SafetensorsFile.Contents {
        let data = try SafetensorsFile.contents(of: url)
        return try decode(data, path: url.path, key: key)
    }

    /// Decodes a checkpoint's bytes; `path` names it in errors.
    public static func decode(_ data: Data, path: String, key: String? = nil) throws(CheckpointError) -> SafetensorsFile.Contents {
        if PyTorchCheckpoint.isZip(data) { return try PyTorchCheckpoint.decode(data, path: path, key: key) }
        if let problem = PyTorchCheckpoint.picklePrefixProblem(data) { throw CheckpointError(path: path, problem: problem) }
        if let key {
            throw CheckpointError(path: path, problem: "a checkpoint key ('\(key)') was given, but this is not a PyTorch torch.save file: "
                + "keys pick an entry of a PyTorch checkpoint dict; drop --checkpoint-key (train.init.key) for a safetensors file")
        }
        return try SafetensorsFile.decode(data, path: path)
    }
}
