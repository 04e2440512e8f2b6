/// CNNTrain builds on the layer kinds; users of the executor see their types (ParameterStore, BackendRequest…).
@_exported import CNNLayers

/// The cnnspec version written into run folders and checkpoint metadata.
public enum CNNSpecVersion {
    public static let string = "0.1.0"
}
