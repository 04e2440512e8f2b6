import Testing
import Synchronization
@testable import CNNKernels
import PyTorchFixtures

/// Counters written by pool tasks: `hits[i]` is touched only by the task (or chunk) that owns index i.
private struct Hits {
    let hits: UnsafeMutablePointer<Int>
    let job: Int
}

@Suite struct ThreadPoolTests {
    private static let taskCounts = [0, 1, 2, 3, 7, 64, 100, 40_000]

    @Test(arguments: [1, 2, 3, 4])
    func runsEveryTaskExactlyOnce(threads: Int) {
        let pool = ThreadPool(threadCount: threads)
        for tasks in Self.taskCounts {
            let hits = UnsafeMutableBufferPointer<Int>.allocate(capacity: max(tasks, 1))
            hits.initialize(repeating: 0)
            defer { hits.deallocate() }
            let repeats = tasks > 1_000 ? 5 : 50
            for _ in 0..<repeats {
                pool.run(tasks: tasks, context: Hits(hits: hits.baseAddress!, job: 0)) { raw, index in
                    raw.load(as: Hits.self).hits[index] += 1
                }
            }
            #expect(hits.prefix(tasks).allSatisfy { $0 == repeats }, "threads \(threads), tasks \(tasks)")
        }
    }

    @Test(arguments: [1, 2, 3, 4])
    func parallelForCoversTheRangeOnceInAlignedChunks(threads: Int) {
        let pool = ThreadPool(threadCount: threads)
        for count in [0, 1, 15, 16, 17, 1001, 65_536 + 3] {
            for (minimumChunk, alignment) in [(1, 1), (10, 1), (16, 16), (1_000, 16), (100_000, 1)] {
                let hits = UnsafeMutableBufferPointer<Int>.allocate(capacity: max(count, 1))
                hits.initialize(repeating: 0)
                defer { hits.deallocate() }
                let misaligned = UnsafeMutablePointer<Int>.allocate(capacity: 2)
                misaligned.initialize(repeating: alignment, count: 2)
                defer { misaligned.deallocate() }
                // hits[start] records the chunk start's alignment check; every element is counted once.
                pool.parallelFor(count, minimumChunk: minimumChunk, chunkAlignment: alignment,
                                 context: Hits(hits: hits.baseAddress!, job: alignment)) { raw, start, end in
                    let job = raw.load(as: Hits.self)
                    for index in start..<end { job.hits[index] += start % job.job == 0 ? 1 : 1_000 }
                }
                #expect(hits.prefix(count).allSatisfy { $0 == 1 }, "count \(count), minimum \(minimumChunk), alignment \(alignment)")
            }
        }
    }

    @Test func parallelForKeepsChunksAtLeastMinimumLong() {
        let pool = ThreadPool(threadCount: 4)
        let chunks = UnsafeMutableBufferPointer<Int>.allocate(capacity: 8)
        chunks.initialize(repeating: 0)
        defer { chunks.deallocate() }
        // 100 elements with minimum 40 → at most 2 chunks; each records its length at its index.
        pool.parallelFor(100, minimumChunk: 40, context: Hits(hits: chunks.baseAddress!, job: 0)) { raw, start, end in
            raw.load(as: Hits.self).hits[start / 40] = end - start
        }
        #expect(chunks.reduce(0, +) == 100)
        #expect(chunks.filter { $0 != 0 }.allSatisfy { $0 >= 40 })
    }

    @Test(arguments: [1, 2, 4])
    func forEachPartRunsEveryPartOnceWithItsRange(threads: Int) {
        let pool = ThreadPool(threadCount: threads)
        for (count, parts) in [(0, 2), (1, 2), (5, 2), (7, 3), (100, 4), (3, 8)] {
            let hits = UnsafeMutableBufferPointer<Int>.allocate(capacity: max(count, 1))
            hits.initialize(repeating: 0)
            defer { hits.deallocate() }
            pool.forEachPart(of: count, parts: parts, context: Hits(hits: hits.baseAddress!, job: parts)) { raw, part, start, end in
                // Each index gets 1 + its part number, so a wrong part/range pairing shows up.
                let job = raw.load(as: Hits.self)
                for index in start..<end { job.hits[index] += 1 + part }
            }
            var expected = [Int](repeating: 0, count: count)
            for part in 0..<parts {
                for index in (count * part / parts)..<(count * (part + 1) / parts) { expected[index] = 1 + part }
            }
            #expect(Array(hits.prefix(count)) == expected, "count \(count), parts \(parts)")
        }
    }

    /// Back-to-back tiny jobs: a worker that wakes late must never run a task of a finished job (it would
    /// write a stale job number) nor miss one of the current job.
    @Test(arguments: [2, 3, 4])
    func backToBackTinyJobsNeverMixUp(threads: Int) {
        let pool = ThreadPool(threadCount: threads)
        let slots = UnsafeMutableBufferPointer<Int>.allocate(capacity: 8)
        slots.initialize(repeating: -1)
        defer { slots.deallocate() }
        var mismatches = 0
        for job in 0..<10_000 {
            let tasks = 2 + job % 7
            pool.run(tasks: tasks, context: Hits(hits: slots.baseAddress!, job: job)) { raw, index in
                let context = raw.load(as: Hits.self)
                context.hits[index] = context.job
            }
            for index in 0..<tasks where slots[index] != job { mismatches += 1 }
        }
        #expect(mismatches == 0)
        #expect(pool.parallelJobs > 0)
    }

    /// Both tasks of a 2-task job wait for each other, which only completes if a worker really runs one
    /// of them while the caller runs the other (a serial pool would time out and record a failure).
    @Test func workersRunTasksConcurrentlyWithTheCaller() {
        struct Rendezvous {
            let arrived: UnsafeMutablePointer<Atomic<Int>>
            let timeouts: UnsafeMutablePointer<Atomic<Int>>
        }
        let pool = ThreadPool(threadCount: 2)
        let arrived = UnsafeMutablePointer<Atomic<Int>>.allocate(capacity: 1)
        arrived.initialize(to: Atomic(0))
        let timeouts = UnsafeMutablePointer<Atomic<Int>>.allocate(capacity: 1)
        timeouts.initialize(to: Atomic(0))
        defer { arrived.deallocate(); timeouts.deallocate() }
        for round in 1...20 {
            pool.run(tasks: 2, context: Rendezvous(arrived: arrived, timeouts: timeouts)) { raw, _ in
                let rendezvous = raw.load(as: Rendezvous.self)
                let target = (rendezvous.arrived.pointee.wrappingAdd(1, ordering: .relaxed).newValue + 1) / 2 * 2
                let deadline = ContinuousClock.now + .seconds(5)
                while rendezvous.arrived.pointee.load(ordering: .relaxed) < target {
                    if ContinuousClock.now > deadline {
                        rendezvous.timeouts.pointee.wrappingAdd(1, ordering: .relaxed)
                        return
                    }
                }
            }
            #expect(arrived.pointee.load(ordering: .relaxed) == 2 * round)
        }
        #expect(timeouts.pointee.load(ordering: .relaxed) == 0)
    }

    /// A job started from inside a task (nested) cannot use the busy workers: it runs inline, completely.
    @Test func nestedRunCompletesInline() {
        struct Nested {
            let pool: Unmanaged<ThreadPool>
            let hits: UnsafeMutablePointer<Int>
        }
        let pool = ThreadPool(threadCount: 2)
        let hits = UnsafeMutableBufferPointer<Int>.allocate(capacity: 4 * 8)
        hits.initialize(repeating: 0)
        defer { hits.deallocate() }
        pool.run(tasks: 4, context: Nested(pool: Unmanaged.passUnretained(pool), hits: hits.baseAddress!)) { raw, outer in
            let context = raw.load(as: Nested.self)
            context.pool.takeUnretainedValue().run(tasks: 8, context: Hits(hits: context.hits + outer * 8, job: 0)) { raw, inner in
                raw.load(as: Hits.self).hits[inner] += 1
            }
        }
        #expect(hits.allSatisfy { $0 == 1 })
    }

    /// Two threads sharing one pool: whichever finds it busy runs its job on its own thread.
    @Test func concurrentCallersBothComplete() async {
        let pool = ThreadPool(threadCount: 2)
        let totals = await withTaskGroup(of: Int.self) { group in
            for _ in 0..<2 {
                group.addTask {
                    let hits = UnsafeMutableBufferPointer<Int>.allocate(capacity: 16)
                    defer { hits.deallocate() }
                    hits.initialize(repeating: 0)
                    for _ in 0..<2_000 {
                        pool.run(tasks: 16, context: Hits(hits: hits.baseAddress!, job: 0)) { raw, index in
                            raw.load(as: Hits.self).hits[index] += 1
                        }
                    }
                    return hits.reduce(0, +)
                }
            }
            return await group.reduce(into: [Int]()) { $0.append($1) }
        }
        #expect(totals == [32_000, 32_000])
    }

    /// The closure form (allocating, for code outside the per-step hot path) still runs every task once.
    @Test func closureRunRunsEveryTaskOnce() {
        let pool = ThreadPool(threadCount: 3)
        let total = Atomic<Int>(0)
        for _ in 0..<100 { pool.run(tasks: 5) { index in total.wrappingAdd(index + 1, ordering: .relaxed) } }
        #expect(total.load(ordering: .relaxed) == 100 * 15)
    }
}

@Test func fixturesAreReachable() throws {
    let relu = try PyTorchFixture.load("relu")
    #expect(try relu.tensor("input").shape == [2, 3, 4, 4])
}
