import Testing
import Synchronization
import CNNKernels
import PyTorchFixtures

@Suite struct ThreadPoolTests {
    @Test(arguments: [1, 2, 3, 4])
    func runsEveryTaskExactlyOnce(threads: Int) {
        let pool = ThreadPool(threadCount: threads)
        for tasks in [0, 1, 2, 7, 100] {
            let hits = UnsafeMutableBufferPointer<Int>.allocate(capacity: max(tasks, 1))
            hits.initialize(repeating: 0)
            defer { hits.deallocate() }
            for _ in 0..<50 { pool.run(tasks: tasks) { hits[$0] += 1 } }
            #expect(hits.prefix(tasks).allSatisfy { $0 == 50 })
        }
    }

    @Test func parallelForCoversTheRangeOnce() {
        let pool = ThreadPool(threadCount: 2)
        let total = Atomic<Int>(0)
        pool.parallelFor(1001, minimumChunk: 10) { range in total.wrappingAdd(range.reduce(0, +), ordering: .relaxed) }
        #expect(total.load(ordering: .relaxed) == 1000 * 1001 / 2)
    }
}

@Test func fixturesAreReachable() throws {
    let relu = try PyTorchFixture.load("relu")
    #expect(try relu.tensor("input").shape == [2, 3, 4, 4])
}
