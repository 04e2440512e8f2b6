import CNNKernels
import Testing

/// GEMM against a Float64 naive reference over shapes, transposes, alpha/beta and leading dimensions.
/// Each test owns its pool: a pool runs one job at a time and tests run concurrently.
struct GEMMTests {

    /// One random case; returns the worst error of GEMM against the reference, relative to the sum of
    /// magnitudes of the terms (|α|·Σ|a·b| + |β·c|), which bounds float32 rounding without cancellation noise.
    func check(m: Int, n: Int, k: Int, transposeA: Bool, transposeB: Bool, alpha: Float, beta: Float,
               pad: Int, gemm: GEMM, random: inout TestRandom) -> Float {
        let aRows = transposeA ? k : m, aCols = transposeA ? m : k
        let bRows = transposeB ? n : k, bCols = transposeB ? k : n
        let lda = aCols + pad, ldb = bCols + pad, ldc = n + pad
        let a = random.array(aRows * lda)
        let b = random.array(bRows * ldb)
        var c = random.array(m * ldc)
        if beta == 0 { for i in stride(from: 0, to: c.count, by: 3) { c[i] = .nan } }
        var expected = [Float](repeating: 0, count: m * n)
        var magnitude = [Float](repeating: 0, count: m * n)
        for i in 0..<m {
            for j in 0..<n {
                var sum = 0.0, absSum = 0.0
                for p in 0..<k {
                    let av = transposeA ? a[p * lda + i] : a[i * lda + p]
                    let bv = transposeB ? b[j * ldb + p] : b[p * ldb + j]
                    sum += Double(av) * Double(bv)
                    absSum += abs(Double(av) * Double(bv))
                }
                let old = beta == 0 ? 0 : Double(beta) * Double(c[i * ldc + j])
                expected[i * n + j] = Float(Double(alpha) * sum + old)
                magnitude[i * n + j] = Float(abs(Double(alpha)) * absSum + abs(old)) + 1e-6
            }
        }
        let padding = c  // pad columns must stay untouched
        a.withUnsafeBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in
                c.withUnsafeMutableBufferPointer { cp in
                    gemm.multiply(m: m, n: n, k: k, a: ap.baseAddress!, lda: lda, transposeA: transposeA,
                                  b: bp.baseAddress!, ldb: ldb, transposeB: transposeB,
                                  c: cp.baseAddress!, ldc: ldc, alpha: alpha, beta: beta)
                }
            }
        }
        var worst: Float = 0
        for i in 0..<m {
            for j in 0..<n {
                let error = abs(c[i * ldc + j] - expected[i * n + j]) / magnitude[i * n + j]
                if !(error <= worst) { worst = error.isNaN ? .infinity : max(worst, error) }
            }
            for j in n..<ldc where !(c[i * ldc + j].isNaN && padding[i * ldc + j].isNaN) {
                if c[i * ldc + j] != padding[i * ldc + j] { return .infinity }
            }
        }
        return worst
    }

    @Test(arguments: [1, 2], KernelTarget.allCases)
    func randomShapesAllTransposes(threads: Int, target: KernelTarget) {
        let gemm = GEMM(pool: ThreadPool(threadCount: threads), target: target)
        var random = TestRandom(seed: 42 + UInt64(threads))
        let shapes: [(Int, Int, Int)] = [
            (1, 1, 1), (1, 7, 3), (7, 1, 5), (13, 31, 17), (8, 32, 1), (9, 33, 257), (16, 200, 25),
            (6, 1000, 25), (32, 333, 400), (130, 70, 300), (97, 2100, 11), (3, 5, 600), (200, 41, 2),
        ]
        for (m, n, k) in shapes {
            for transposeA in [false, true] {
                for transposeB in [false, true] {
                    let error = check(m: m, n: n, k: k, transposeA: transposeA, transposeB: transposeB,
                                      alpha: 1, beta: 0, pad: 0, gemm: gemm, random: &random)
                    #expect(error < 1e-5, "m \(m) n \(n) k \(k) tA \(transposeA) tB \(transposeB): \(error)")
                }
            }
        }
    }

    @Test(arguments: KernelTarget.allCases)
    func alphaBetaAndLeadingDimensions(target: KernelTarget) {
        let gemm = GEMM(pool: ThreadPool(threadCount: 2), target: target)
        var random = TestRandom(seed: 7)
        for _ in 0..<24 {
            let m = random.int(1...70), n = random.int(1...300), k = random.int(1...300)
            let alpha: Float = [1, -0.5, 2.25][random.int(0...2)]
            let beta: Float = [0, 1, 0.75][random.int(0...2)]
            let transposeA = random.int(0...1) == 1, transposeB = random.int(0...1) == 1
            let pad = random.int(1...5)
            let error = check(m: m, n: n, k: k, transposeA: transposeA, transposeB: transposeB,
                              alpha: alpha, beta: beta, pad: pad, gemm: gemm, random: &random)
            #expect(error < 1e-5, "m \(m) n \(n) k \(k) α \(alpha) β \(beta) pad \(pad): \(error)")
        }
    }

    @Test(arguments: KernelTarget.allCases)
    func zeroDepthScalesC(target: KernelTarget) {
        let gemm = GEMM(pool: ThreadPool(threadCount: 1), target: target)
        var random = TestRandom(seed: 3)
        for beta: Float in [0, 0.5] {
            let error = check(m: 5, n: 9, k: 0, transposeA: false, transposeB: false, alpha: 1, beta: beta,
                              pad: 1, gemm: gemm, random: &random)
            #expect(error == 0)
        }
    }

    /// Transposed B goes through 16×16 in-register transposes for full 32-column panels and whole
    /// 16-step groups, scalar copies for the rest: cover depths around multiples of 16 and of KC, widths
    /// around multiples of 32, and row padding (ldb > k).
    @Test(arguments: KernelTarget.allCases)
    func transposedPackingEdges(target: KernelTarget) {
        let gemm = GEMM(pool: ThreadPool(threadCount: 1), target: target)
        var random = TestRandom(seed: 11)
        for n in [31, 32, 64, 65] {
            for k in [15, 16, 17, 48, 255, 257, 300] {
                for pad in [0, 3] {
                    for transposeA in [false, true] {
                        let error = check(m: 9, n: n, k: k, transposeA: transposeA, transposeB: true, alpha: 1,
                                          beta: 0, pad: pad, gemm: gemm, random: &random)
                        #expect(error < 1e-5, "n \(n) k \(k) pad \(pad) tA \(transposeA): \(error)")
                    }
                }
            }
        }
    }

    /// Row-major A is packed two 8-row panels at a time through 16×16 in-register transposes (rows past
    /// the edge read as zeros, the second panel only written when it exists) and k mod 16 steps one by
    /// one; transposed A one SIMD8 per step. Cover heights around multiples of 8 and 16, depths around
    /// multiples of 16, a scaling alpha (folded into the packed A) and row padding (lda > k).
    @Test(arguments: KernelTarget.allCases)
    func packingEdgesOfA(target: KernelTarget) {
        let gemm = GEMM(pool: ThreadPool(threadCount: 1), target: target)
        var random = TestRandom(seed: 13)
        for m in [7, 8, 9, 15, 16, 17, 24, 25, 33] {
            for k in [1, 15, 16, 17, 33] {
                for transposeA in [false, true] {
                    let pad = (m + k) % 3
                    let error = check(m: m, n: 33, k: k, transposeA: transposeA, transposeB: false, alpha: -1.5,
                                      beta: 0.5, pad: pad, gemm: gemm, random: &random)
                    #expect(error < 1e-5, "m \(m) k \(k) pad \(pad) tA \(transposeA): \(error)")
                }
            }
        }
    }
}
