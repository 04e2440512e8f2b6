import Testing
import CNNKernels

@Test func kernelLibraryHasAVersion() { #expect(!KernelLibrary.version.isEmpty) }
