import Testing
import CNNTrain

@Test func versionIsSet() { #expect(!CNNSpecVersion.string.isEmpty) }
