import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A fixed set of worker threads that run indexed tasks in parallel, without allocating per call.
///
/// A job is a context value (kept on the caller's stack for the duration of the call) and a C-convention
/// function that reads it, so handing it to workers copies two pointers and retains nothing:
///
///     struct Scale { let x: UnsafeMutablePointer<Float>; let factor: Float }
///     pool.parallelFor(count, minimumChunk: 4096, context: Scale(x: x, factor: 2)) { raw, start, end in
///         let job = raw.load(as: Scale.self)
///         for i in start..<end { job.x[i] *= job.factor }
///     }
///
/// The calling thread takes part and returns as soon as every task has finished (it never waits for a
/// worker that did not get a task), so `threadCount` 1 runs everything inline. Workers spin briefly
/// before sleeping, which keeps the latency of the many small per-layer calls of a training step low.
/// Work is handed out by tickets packed with the job's generation into one atomic word, so a worker that
/// wakes late can never run a task of a job that has already returned.
///
/// One job at a time: a `run`/`parallelFor` made while the pool is busy — from inside a task (nested) or
/// from another thread — does not wait and does not deadlock; it runs all its tasks serially on its own
/// calling thread.
public final class ThreadPool: @unchecked Sendable {
    /// Threads used by a job, including the caller.
    public let threadCount: Int

    /// Largest number of tickets per job; jobs with more tasks give each ticket a contiguous run of tasks.
    @usableFromInline static let maximumTickets = 1 << 15
    /// Largest thread count (keeps failed ticket fetches per job far below the 16-bit ticket field).
    static let maximumThreads = 1_024

    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let wake = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    /// Generation (bits 32–63) | ticket count (bits 16–31) | next ticket (bits 0–15). Only the active caller
    /// stores it (publishing a job); workers and the caller take tickets with a fetch-add.
    private let tickets = Atomic<UInt64>(0)
    /// Tickets of the current job that have finished.
    private let completed = Atomic<Int>(0)
    /// Workers blocked (or about to block) on `wake`; the caller only signals when this is non-zero.
    private let sleepers = Atomic<Int>(0)
    /// True while a job is spread over the workers.
    private let active = Atomic<Bool>(false)
    private let shuttingDown = Atomic<Bool>(false)
    /// The current job; written only by the active caller before it publishes a new generation.
    private let current = UnsafeMutablePointer<ParallelJob>.allocate(capacity: 1)
    private var workers: [pthread_t] = []
    /// Jobs spread over the workers so far (not counting inline ones); lets tests check that a size threads.
    private(set) var parallelJobs = 0

    /// The threads a pool created with `threadCount: requested` runs (0: the active processors; at most
    /// 1024), known before the pool exists (the memory estimate sizes per-thread workspaces with it).
    public static func threadCount(requested: Int) -> Int {
        min(maximumThreads, requested > 0 ? requested : max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }

    /// Creates a pool; `threadCount` defaults to the number of active processors (at most 1024).
    public init(threadCount: Int = 0) {
        self.threadCount = ThreadPool.threadCount(requested: threadCount)
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(wake, nil)
        for _ in 1..<self.threadCount {
            let context = Unmanaged.passUnretained(self).toOpaque()
            var thread = pthread_t()
            let status = pthread_create(&thread, nil, { raw in
                Unmanaged<ThreadPool>.fromOpaque(raw!).takeUnretainedValue().workerLoop()  // invariant: context is self
                return nil
            }, context)
            if status == 0 { workers.append(thread) }
        }
    }

    deinit {
        shuttingDown.store(true, ordering: .sequentiallyConsistent)
        let generation = (tickets.load(ordering: .relaxed) >> 32) &+ 1
        tickets.store(generation << 32, ordering: .sequentiallyConsistent)
        pthread_mutex_lock(mutex)
        pthread_cond_broadcast(wake)
        pthread_mutex_unlock(mutex)
        for thread in workers { pthread_join(thread, nil) }
        pthread_cond_destroy(wake)
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
        wake.deallocate()
        current.deallocate()
    }

    /// Runs `task(context, i)` for every `i` in `0..<tasks`, spread over the pool; returns when all are done.
    /// `context` is passed as a pointer to a copy that lives until `run` returns. No heap allocation.
    @inlinable
    public func run<Context>(tasks: Int, context: Context, _ task: ParallelTask) {
        if tasks <= 0 { return }
        withUnsafePointer(to: context) { pointer in
            dispatch(ParallelJob(context: UnsafeRawPointer(pointer), task: task, rangeTask: nil, count: tasks,
                                 tickets: min(tasks, ThreadPool.maximumTickets), chunk: 0))
        }
    }

    /// Splits `0..<count` into about one contiguous chunk per thread — each at least `minimumChunk` long
    /// and starting at a multiple of `chunkAlignment` — and runs `task(context, start, end)` on each chunk
    /// in parallel. A single chunk runs inline. No heap allocation.
    @inlinable
    public func parallelFor<Context>(_ count: Int, minimumChunk: Int = 1, chunkAlignment: Int = 1, context: Context,
                                     _ task: ParallelRangeTask) {
        if count <= 0 { return }
        let chunks = max(1, min(threadCount, count / max(1, minimumChunk)))
        let alignment = max(1, chunkAlignment)
        let size = ((count + chunks - 1) / chunks + alignment - 1) / alignment * alignment
        withUnsafePointer(to: context) { pointer in
            dispatch(ParallelJob(context: UnsafeRawPointer(pointer), task: nil, rangeTask: task, count: count,
                                 tickets: (count + size - 1) / size, chunk: size))
        }
    }

    /// Runs `body(i)` for every `i` in `0..<tasks`, spread over the pool; returns when all are done.
    ///
    /// Allocates: Swift boxes a capturing closure to hand it to other threads (one heap allocation per
    /// call). Kernels and anything run every training step use `run(tasks:context:_:)` instead.
    public func run(tasks: Int, _ body: (Int) -> Void) {
        withoutActuallyEscaping(body) { escapable in
            run(tasks: tasks, context: ClosureTask(body: escapable)) { raw, index in
                raw.assumingMemoryBound(to: ClosureTask.self).pointee.body(index)
            }
        }
    }

    /// Holds the closure of `run(tasks:_:)` at its natural abstraction (a bare function value passed as a
    /// generic context would need one more allocated reabstraction thunk).
    private struct ClosureTask {
        let body: (Int) -> Void
    }

    /// Hands `job` to the workers and takes part in it; returns when every ticket has finished.
    @usableFromInline func dispatch(_ job: ParallelJob) {
        if job.tickets <= 1 || workers.isEmpty || active.exchange(true, ordering: .acquiring) {
            for ticket in 0..<job.tickets { job.perform(ticket) }
            return
        }
        parallelJobs &+= 1
        current.pointee = job
        completed.store(0, ordering: .relaxed)
        let generation = (tickets.load(ordering: .relaxed) >> 32) &+ 1
        tickets.store(generation << 32 | UInt64(job.tickets) << 16, ordering: .sequentiallyConsistent)
        if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
            pthread_mutex_lock(mutex)
            pthread_cond_broadcast(wake)
            pthread_mutex_unlock(mutex)
        }
        _ = drainTickets()
        // Every ticket handed out belongs to a thread that is running it, so this waits only for work in
        // progress; workers that have not woken up yet will find the job's tickets exhausted.
        var spins = 0
        while completed.load(ordering: .acquiring) < job.tickets {
            spins += 1
            if spins > 1_000 { sched_yield() }
        }
        active.store(false, ordering: .releasing)
    }

    /// Takes and runs tickets until the current job has none left; returns that job's generation.
    /// A ticket's job description stays valid until the ticket is counted as completed.
    @inline(__always) private func drainTickets() -> UInt64 {
        while true {
            let ticket = tickets.wrappingAdd(1, ordering: .acquiringAndReleasing).oldValue
            let next = Int(truncatingIfNeeded: ticket & 0xFFFF)
            let count = Int(truncatingIfNeeded: (ticket >> 16) & 0xFFFF)
            if next >= count { return ticket >> 32 }
            current.pointee.perform(next)
            completed.wrappingAdd(1, ordering: .releasing)
        }
    }

    private func workerLoop() {
        var seen: UInt64 = 0
        while true {
            var spins = 0
            while tickets.load(ordering: .acquiring) >> 32 == seen && spins < 20_000 { spins += 1 }
            if tickets.load(ordering: .acquiring) >> 32 == seen {
                sleepers.wrappingAdd(1, ordering: .sequentiallyConsistent)
                pthread_mutex_lock(mutex)
                while tickets.load(ordering: .sequentiallyConsistent) >> 32 == seen { pthread_cond_wait(wake, mutex) }
                pthread_mutex_unlock(mutex)
                sleepers.wrappingSubtract(1, ordering: .sequentiallyConsistent)
            }
            if shuttingDown.load(ordering: .sequentiallyConsistent) { return }
            seen = drainTickets()
        }
    }
}
