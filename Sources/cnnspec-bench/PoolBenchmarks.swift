import CNNKernels
import Foundation

/// Latency of one trivial pool job (2 tasks that each add to a counter): the allocation-free context form,
/// the (allocating) closure form and `DispatchQueue.concurrentPerform`; min/median/max over batches of calls.
enum PoolBenchmarks {
    static let suite = BenchmarkSuite(name: "pool") { runAll() }

    private static func measure(_ name: String, calls: Int = 20_000, batches: Int = 15, _ body: () -> Void) {
        for _ in 0..<1_000 { body() }
        var times: [Double] = []
        for _ in 0..<batches {
            let start = DispatchTime.now().uptimeNanoseconds
            for _ in 0..<calls { body() }
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / Double(calls) / 1e3)
        }
        let sorted = times.sorted()
        print(name.padding(toLength: 44, withPad: " ", startingAt: 0)
              + String(format: "| %7.2f µs | %7.2f µs | %7.2f µs", sorted[0], sorted[batches / 2], sorted[batches - 1]))
    }

    private static func runAll() {
        print("job (per call)                              |     min    |   median   |    max")
        print("--------------------------------------------|------------|------------|-----------")
        let counter = UnsafeMutablePointer<Int>.allocate(capacity: 2)
        counter.initialize(repeating: 0, count: 2)
        defer { counter.deallocate() }
        for threads in [2] {
            let pool = ThreadPool(threadCount: threads)
            measure("ThreadPool.run(context:) 2 tasks, \(threads) thr") {
                pool.run(tasks: 2, context: counter) { raw, index in
                    raw.load(as: UnsafeMutablePointer<Int>.self)[index] &+= 1
                }
            }
            measure("ThreadPool.run closure 2 tasks, \(threads) thr") {
                pool.run(tasks: 2) { counter[$0] &+= 1 }
            }
        }
        let address = Int(bitPattern: counter)
        measure("DispatchQueue.concurrentPerform 2") {
            DispatchQueue.concurrentPerform(iterations: 2) { UnsafeMutablePointer<Int>(bitPattern: address)![$0] &+= 1 }
        }
    }
}
