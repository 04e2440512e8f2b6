/// The cnnspec version written into run folders and checkpoint metadata.
public enum CNNSpecVersion {
    public static let string = "0.1.0"
}
