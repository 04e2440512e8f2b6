import CNNLayers
import Testing
@testable import CNNSpec

/// Every class of model-file error: message content, line number, no trap.
@Suite struct SpecErrorMessageTests {
    private func only(_ yaml: String) throws -> Diagnostic {
        let diagnostics = SpecTestSupport.diagnostics(yaml)
        #expect(diagnostics.count == 1, "\(diagnostics)")
        return try #require(diagnostics.first)
    }

    @Test func emptyConvolutionOutputShowsTheArithmetic() throws {
        let diagnostic = try only(SpecTestSupport.model([
            "conv: {out: 6, kernel: 5}", "maxpool: 2", "conv: {out: 16, kernel: 5}", "maxpool: 2",
            "conv: {out: 16, kernel: 5, name: conv3}",
        ], input: "[1, 28, 28]"))
        // 28 → 24 → 12 → 8 → 4, then 4 − 5 + 1 = 0.
        #expect(diagnostic.location?.line == 7)
        #expect(diagnostic.message == "conv3: input 4×4, kernel 5, padding 0, stride 1 → (4 − 5 + 0)/1 + 1 = 0: the output would be empty")
        #expect(diagnostic.hint?.contains("smaller kernel (at most 4") == true)
        #expect(diagnostic.hint?.contains("padding") == true && diagnostic.hint?.contains("pooling") == true)
        #expect(diagnostic.description.hasPrefix("m.yaml:7:5: error: conv3: input 4×4"))
    }

    @Test func emptyPoolingOutputNamesTheAxis() throws {
        let diagnostic = try only(SpecTestSupport.model(["maxpool: {kernel: [2, 8], name: pool}"], input: "[1, 4, 6]"))
        #expect(diagnostic.message.contains("width (6 − 8 + 0)/8 + 1 = 0"))
        #expect(!diagnostic.message.contains("height ("))
    }

    @Test func samePaddingNeedsStrideOneAndItsHintIsPossible() throws {
        let diagnostics = SpecTestSupport.diagnostics(SpecTestSupport.model([
            "conv: {out: 4, kernel: 4, padding: same}", "conv: {out: 4, kernel: 3, stride: 2, padding: same, from: input}",
        ]))
        try #require(diagnostics.count == 1)
        #expect(diagnostics[0].message.contains("padding: same needs stride 1, got stride 2") && diagnostics[0].location?.line == 4)
        // The suggested explicit padding is itself valid: no kernel change is proposed.
        #expect(diagnostics[0].hint?.contains("padding: 1") == true && diagnostics[0].hint?.contains("kernel") == false)
    }

    @Test func unknownKeysAndKindsSuggestTheClosestWord() {
        let diagnostics = SpecTestSupport.diagnostics("""
        input: [1, 28, 28]
        layer:
          - relu
        """) + SpecTestSupport.diagnostics(SpecTestSupport.model(["conv: {out: 4, kernal: 3}", "rleu", "maxpool: {kernel: 2, strides: 2}"]))
        let messages = diagnostics.map { "\($0.location?.line ?? 0) \($0.message) | \($0.hint ?? "")" }
        #expect(messages.contains { $0.hasPrefix("2 unknown top-level key 'layer'") && $0.contains("did you mean 'layers'?") })
        #expect(messages.contains { $0.hasPrefix("3 conv1: unknown key 'kernal' for conv2d (did you mean 'kernel'?)") })
        // The typo explains the missing 'kernel': one error, not a second "needs 'kernel'".
        #expect(!messages.contains { $0.contains("needs 'kernel'") })
        #expect(messages.contains { $0.hasPrefix("4 unknown layer kind 'rleu'") && $0.contains("did you mean 'relu'?") })
        #expect(messages.contains { $0.hasPrefix("5 maxpool1: unknown key 'strides'") && $0.contains("did you mean 'stride'?") })
    }

    @Test func wrongTypesMissingFieldsAndNegativeSizes() {
        let diagnostics = SpecTestSupport.diagnostics(SpecTestSupport.model([
            "conv: {out: sixteen, kernel: 5}",       // line 3
            "conv: {kernel: 3}",                     // line 4
            "conv: {out: 4, kernel: -3}",            // line 5
            "maxpool: {kernel: 2, stride: 0}",       // line 6
            "dropout: 1.5",                          // line 7
            "conv: {out: 4, kernel: 3, bias: maybe}", // line 8
            "conv: {out: 4, kernel: 3, padding: sme}", // line 9
            "conv: {out: 9999999999999999999, kernel: 3}", // line 10
        ]))
        func message(_ line: Int) -> String { diagnostics.filter { $0.location?.line == line }.map(\.message).joined(separator: "; ") }
        #expect(message(3).contains("out must be a whole number, got 'sixteen'"))
        #expect(message(4).contains("conv2d needs 'out'"))
        #expect(message(5).contains("kernel must be at least 1, got -3"))
        #expect(message(6).contains("stride must be at least 1, got 0"))
        #expect(message(7).contains("p must be a probability between 0 and 1, got 1.5"))
        #expect(message(8).contains("bias must be true or false, got 'maybe'"))
        #expect(message(9).contains("padding must be a number, [height, width], same or valid, got 'sme'"))
        #expect(message(10).contains("out must be a whole number"))
        #expect(diagnostics.first { $0.location?.line == 9 }?.hint == "did you mean 'same'?")
    }

    @Test func addOfMismatchedShapesListsBoth() throws {
        let diagnostic = try only(SpecTestSupport.model([
            "conv: {out: 8, kernel: 3, padding: 1, name: a}", "conv: {out: 16, kernel: 3, stride: 2, padding: 1, name: b}",
            "add: {from: [a, b], name: merge}",
        ]))
        #expect(diagnostic.location?.line == 5)
        #expect(diagnostic.message == "merge: add needs inputs of the same shape, but a gives 8×28×28, b gives 16×14×14")
        #expect(diagnostic.hint?.contains("projection") == true)
    }

    @Test func concatOfDifferentSizesIsAnError() throws {
        let diagnostic = try only(SpecTestSupport.model([
            "conv: {out: 8, kernel: 3, name: a}", "conv: {out: 8, kernel: 3, padding: 1, from: input, name: b}", "concat: {from: [a, b]}",
        ]))
        #expect(diagnostic.message.contains("a gives 8×26×26, b gives 8×28×28") && diagnostic.location?.line == 5)
    }

    @Test func linearInDisagreeingWithFlattenShowsBoth() throws {
        let diagnostic = try only(SpecTestSupport.model([
            "conv: {out: 16, kernel: 5}", "maxpool: 2", "flatten", "linear: {in: 400, out: 10, name: fc1}",
        ]))
        #expect(diagnostic.location?.line == 6)
        #expect(diagnostic.message == "fc1: in: 400 is written, but flatten1 gives 2304 features (16×12×12 flattened)")
        #expect(diagnostic.hint == "write in: 2304, or leave 'in' out: it is inferred")
    }

    @Test func graphReferenceErrors() {
        let diagnostics = SpecTestSupport.diagnostics(SpecTestSupport.model([
            "conv: {out: 4, kernel: 3, name: body}",   // 3
            "relu: {from: bodyy}",                     // 4
            "add: {from: [body, later]}",              // 5
            "conv: {out: 4, kernel: 3, name: later}",  // 6
            "add",                                     // 7
            "conv: {out: 4, kernel: 3, name: body}",   // 8
            "relu: {from: [body, later]}",             // 9
        ]))
        func message(_ line: Int) -> String { diagnostics.filter { $0.location?.line == line }.map { $0.message + " | " + ($0.hint ?? "") }.joined() }
        #expect(message(4).contains("no earlier layer has that name") && message(4).contains("did you mean 'body'?"))
        #expect(message(5).contains("'from: later' names a later layer"))
        #expect(message(7).contains("add needs 'from'"))
        #expect(message(8).contains("the layer name 'body' is used twice (first at line 3)"))
        #expect(message(9).contains("relu takes one input, but 'from' names 2"))
    }

    @Test func layersOnVectorsAndStructuralMistakes() {
        let diagnostics = SpecTestSupport.diagnostics("""
        input: [1, 28]
        layers:
          - flatten
          - conv: {out: 4, kernel: 3}
          - relu: 3
          - [relu]
          - conv: {out: 4, kernel: 3}
            relu:
        """)
        let lines = diagnostics.map { $0.location?.line ?? 0 }
        #expect(diagnostics.contains { $0.message.contains("input must be [channels, height, width]") && $0.location?.line == 1 })
        #expect(diagnostics.contains { $0.message.contains("relu does not take '3' as its value") && $0.location?.line == 5 })
        #expect(diagnostics.contains { $0.message.contains("a layer entry is a kind or a mapping, got a list") && $0.location?.line == 6 })
        #expect(diagnostics.contains { $0.message.contains("one layer entry names several kinds") && $0.location?.line == 8 })
        #expect(lines == lines.sorted())

        let vector = SpecTestSupport.diagnostics(SpecTestSupport.model(["flatten", "conv: {out: 4, kernel: 3}", "batchnorm2d: 4"]))
        #expect(vector.count == 1)
        #expect(vector.first?.message == "conv1: conv2d needs a feature map (channels×height×width), but flatten1 gives a vector of 784 features")
    }

    @Test func everyErrorInTheFileIsReported() {
        let diagnostics = SpecTestSupport.diagnostics(SpecTestSupport.model([
            "conv: {out: 4, kernal: 3}", "relu", "maxpool: {kernel: 2, stride: -1}", "linear: {out: 0}", "dropout: {p: 2}",
        ]))
        #expect(Set(diagnostics.compactMap { $0.location?.line }) == [3, 5, 6, 7])
        #expect(SpecError(diagnostics).description.hasSuffix("\(diagnostics.count) errors"))
    }

    /// A misspelt required key is one error (the unknown key, with its suggestion) in repeats too.
    @Test func aMisspeltRepeatListIsOneError() throws {
        let diagnostic = try only(SpecTestSupport.model(["repeat: 2\n    layer:\n      - relu"]))
        #expect(diagnostic.message == "unknown key 'layer' in a repeat" && diagnostic.hint?.hasPrefix("did you mean 'layers'?") == true)
    }

    @Test func blockErrors() {
        let diagnostics = SpecTestSupport.diagnostics("""
        input: [1, 8, 8]
        blocks:
          unit:
            args: {out: ~}
            layers:
              - conv: {out: $out, kernel: 3}
          loop:
            layers:
              - loop
        layers:
          - unit: {outt: 4}
          - unit
          - loop
        """)
        #expect(diagnostics.contains { $0.message == "unknown argument 'outt' for block 'unit'" && $0.hint?.hasPrefix("did you mean 'out'?") == true && $0.location?.line == 11 })
        #expect(diagnostics.contains { $0.message == "block 'unit' needs argument 'out'" && $0.location?.line == 12 })
        // The misspelt 'outt' explains the missing 'out' of line 11: one error there, not two.
        #expect(!diagnostics.contains { $0.message.contains("needs argument") && $0.location?.line == 11 })
        #expect(diagnostics.contains { $0.message == "block 'loop' uses itself" })
    }

    @Test func hugeSizesAreRejectedWithoutOverflow() {
        let diagnostics = SpecTestSupport.diagnostics(SpecTestSupport.model([
            "conv: {out: 1048576, kernel: 1}", "conv: {out: 1048576, kernel: 1}", "flatten", "linear: 1048576",
        ], input: "[1048576, 1048576, 1048576]"))
        #expect(!diagnostics.isEmpty)
        #expect(diagnostics.contains { $0.message.contains("too large") })
        let dimension = SpecTestSupport.diagnostics(SpecTestSupport.model(["conv: {out: 2000000, kernel: 1}"]))
        #expect(dimension.first?.message == "conv1: out 2000000 is too large (at most 1048576)")
    }

    @Test func poolingPaddingAtMostHalfTheKernel() throws {
        let diagnostic = try only(SpecTestSupport.model(["maxpool: {kernel: 2, padding: 2}"]))
        #expect(diagnostic.message.contains("padding 2 is more than half the kernel 2") && diagnostic.location?.line == 3)
    }

    /// PyTorch accepts replicate padding of any size (`input [3, 4, 4]`, kernel 3, padding 6 gives 4×14×14);
    /// reflect keeps its limit, padding smaller than the input.
    @Test func replicatePaddingMayExceedTheInput() throws {
        let graph = try ModelSpecLoader.load(yaml: SpecTestSupport.model(["conv: {out: 4, kernel: 3, padding: 6, padding_mode: replicate}"],
                                                                         input: "[3, 4, 4]"), catalog: .standard)
        #expect(graph.outputShape == .image(channels: 4, height: 14, width: 14))
        let reflect = try only(SpecTestSupport.model(["conv: {out: 4, kernel: 3, padding: 4, padding_mode: reflect}"], input: "[3, 4, 4]"))
        #expect(reflect.message == "conv1: padding_mode reflect needs padding smaller than the input size 4×4")
    }

    /// A channel count written under PyTorch's name is reported under that name, not the canonical one.
    @Test func aliasedKeysAreReportedAsWritten() throws {
        let diagnostic = try only(SpecTestSupport.model(["conv: {out: 8, kernel: 3}", "batchnorm2d: {num_features: 16}"]))
        #expect(diagnostic.message.hasPrefix("bn1: num_features: 16 is written, but conv1 gives 8 channels"))
        #expect(diagnostic.hint == "write num_features: 8, or leave 'num_features' out: it is inferred")
        let wrongType = try only(SpecTestSupport.model(["batchnorm2d: {num_features: many}"]))
        #expect(wrongType.message.contains("num_features") && !wrongType.message.contains("channels"))
    }

    /// An input written height, width, channels loads (it is valid) but warns with the likely intent.
    @Test func anInputWrittenChannelsLastWarns() throws {
        let graph = try ModelSpecLoader.load(yaml: SpecTestSupport.model(["flatten", "linear: 10"], input: "[64, 64, 3]"),
                                             catalog: .standard)
        let warning = try #require(graph.warnings.first)
        #expect(graph.warnings.count == 1 && warning.isWarning && warning.location?.line == 1)
        #expect(warning.description.hasPrefix("model.yaml:1:8: warning: input [64, 64, 3]") && warning.message.hasSuffix("did you mean [3, 64, 64]?"))
        for quiet in ["[3, 64, 64]", "[4, 64, 3]", "[64, 64, 2]", "[1, 28, 28]"] {
            let model = try ModelSpecLoader.load(yaml: SpecTestSupport.model(["flatten", "linear: 10"], input: quiet), catalog: .standard)
            #expect(model.warnings.isEmpty, "\(quiet)")
        }
    }

    @Test func inputShapeOptionIsChecked() throws {
        #expect(try ModelSpecLoader.parseInputShape("3,64,64") == .image(channels: 3, height: 64, width: 64))
        #expect(try ModelSpecLoader.parseInputShape("1x28x28") == .image(channels: 1, height: 28, width: 28))
        for bad in ["3,64", "a,b,c", "0,28,28", "1,28,28,1", "1,-28,28", ""] {
            #expect(throws: SpecError.self) { try ModelSpecLoader.parseInputShape(bad) }
        }
    }
}
