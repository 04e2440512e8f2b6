import CNNKernels
import Foundation

/// Latency of one thread-pool job (not pooling layers: see `PoolingBenchmarks`), 2 threads: trivial tasks (each adds to a counter) and 2 µs busy tasks, with the
/// allocation-free context form, the allocating closure form and `DispatchQueue.concurrentPerform` for
/// comparison; min/median/max per call over batches of calls. On a loaded machine the worker may not get
/// a core, so "2 × 2 µs" can exceed the serial reference.
enum ThreadPoolBenchmarks {
    static let suite = BenchmarkSuite(name: "threadpool", summary: "ThreadPool job latency against DispatchQueue.concurrentPerform") { runAll() }

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
        let address = Int(bitPattern: counter)
        let pool = ThreadPool(threadCount: 2)
        measure("ThreadPool.run(context:) 2 tasks") {
            pool.run(tasks: 2, context: counter) { raw, index in raw.load(as: UnsafeMutablePointer<Int>.self)[index] &+= 1 }
        }
        measure("ThreadPool.run closure (allocating) 2 tasks") { pool.run(tasks: 2) { counter[$0] &+= 1 } }
        measure("DispatchQueue.concurrentPerform 2 tasks") {
            DispatchQueue.concurrentPerform(iterations: 2) { UnsafeMutablePointer<Int>(bitPattern: address)![$0] &+= 1 }
        }
        measure("serial 2 × 2 µs (reference)", calls: 2_000) { spin(2_000); spin(2_000) }
        measure("ThreadPool.run(context:) 2 tasks × 2 µs", calls: 2_000) {
            pool.run(tasks: 2, context: 2_000) { raw, _ in ThreadPoolBenchmarks.spin(raw.load(as: Int.self)) }
        }
        measure("concurrentPerform 2 tasks × 2 µs", calls: 2_000) {
            DispatchQueue.concurrentPerform(iterations: 2) { _ in spin(2_000) }
        }
    }

    /// Busy-waits about `nanoseconds`.
    fileprivate static func spin(_ nanoseconds: Int) {
        let end = DispatchTime.now().uptimeNanoseconds + UInt64(nanoseconds)
        while DispatchTime.now().uptimeNanoseconds < end {}
    }
}
