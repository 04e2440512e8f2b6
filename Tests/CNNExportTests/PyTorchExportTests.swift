import CNNExport
import CNNSpec
import Foundation
import Testing

/// The generated Python names modules as cnnspec names parameters.
@Suite struct PyTorchExportTests {
    @Test func resnetModulesKeepTorchvisionNames() throws {
        let graph = try ModelSpecLoader.load(path: ExportTestFiles.model("resnet18"), catalog: .standard)
        let python = try PyTorchExporter.source(for: graph, source: "models/resnet18.yaml")
        #expect(python.contains("self._install('layer1.0.conv1', nn.Conv2d(64, 64, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1)"))
        #expect(python.contains("self._install('layer2.0.downsample.1', nn.BatchNorm2d(128, eps=1e-05, momentum=0.1))"))
        #expect(python.contains("self._install('fc', nn.Linear(512, 1000, bias=True))"))
        #expect(python.contains(" + "), "residual additions are expressions")
        #expect(python.contains("def forward(self, x_input):"))
    }

    @Test func asymmetricPaddingIsSameOrAnExplicitPad() throws {
        let graph = try ModelSpecLoader.load(yaml: """
            input: [1, 8, 8]
            layers:
              - conv: {out: 2, kernel: 4, padding: same, padding_mode: reflect, name: c}
              - concat: {from: [c, c], name: both}
              - flatten
              - linear: {out: 3, name: fc}
            """, catalog: .standard)
        let python = try PyTorchExporter.source(for: graph, source: "m.yaml")
        #expect(python.contains("padding='same', dilation=(1, 1), groups=1, bias=True, padding_mode='reflect')"))
        #expect(python.contains("x_both = torch.cat([x_c, x_c], 1)"))
    }
}
