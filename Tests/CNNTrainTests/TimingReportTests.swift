import Testing
@testable import CNNTrain

/// `cnnspec time`'s FLOP rate is quoted against the machine's FMA peak measured in the same run.
@Suite struct TimingReportTests {
    static func report(peak: Double?) -> TimingReport {
        var report = TimingReport(batch: 100, threads: 2, iterations: 3, layers: [], trainStepMilliseconds: 50,
                                  inferenceMilliseconds: 20, allocationsPerStep: 0)
        report.macsPerImage = 1_000_000  // 6 MFLOP per image, 2,000 images/s: 12 GFLOP/s
        report.peakGigaflops = peak
        return report
    }

    @Test func flopRateIsAShareOfTheMeasuredPeak() {
        let text = Self.report(peak: 200).render()
        #expect(text.contains("training FLOP rate: 12.0 GFLOP/s"))
        #expect(text.contains("= 6 % of this machine's FMA peak, 200.0 GFLOP/s on 2 threads"))
    }

    @Test func flopRateWithoutAPeakSaysNoShare() {
        let text = Self.report(peak: nil).render()
        #expect(text.contains("training FLOP rate: 12.0 GFLOP/s") && !text.contains("FMA peak"))
    }

    /// ResNet-50's 4.1 G MACs per image do not fit 32 bits (`%d` printed them negative).
    @Test func macsAbove32BitsPrintWhole() {
        var report = Self.report(peak: nil)
        report.macsPerImage = 4_111_514_624
        #expect(report.render().contains("3 × 2 × 4111514624 MACs per image"))
    }
}
