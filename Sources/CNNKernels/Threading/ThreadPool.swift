import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A fixed set of worker threads that run indexed tasks in parallel, without allocating per call.
///
/// The calling thread takes part, so `threadCount` 1 runs everything inline. Workers spin briefly
/// before sleeping, which keeps the latency of the many small per-layer calls of a training step low.
/// One `run` at a time: a pool is used by one executor (one training loop) at a time.
public final class ThreadPool: @unchecked Sendable {
    /// Threads used by `run`, including the caller.
    public let threadCount: Int

    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let wake = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private let generation = Atomic<Int>(0)
    private let nextTask = Atomic<Int>(0)
    private let busyWorkers = Atomic<Int>(0)
    private let shuttingDown = Atomic<Bool>(false)
    private var taskCount = 0
    private var job: ((Int) -> Void)?
    private var workers: [pthread_t] = []

    /// Creates a pool; `threadCount` defaults to the number of active processors.
    public init(threadCount: Int = 0) {
        let available = sysconf(Int32(_SC_NPROCESSORS_ONLN))
        self.threadCount = threadCount > 0 ? threadCount : max(1, available)
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
        shuttingDown.store(true, ordering: .releasing)
        pthread_mutex_lock(mutex)
        generation.wrappingAdd(1, ordering: .releasing)
        pthread_cond_broadcast(wake)
        pthread_mutex_unlock(mutex)
        for thread in workers { pthread_join(thread, nil) }
        pthread_cond_destroy(wake)
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
        wake.deallocate()
    }

    /// Runs `body(i)` for every `i` in `0..<tasks`, spread over the pool; returns when all are done.
    public func run(tasks: Int, _ body: (Int) -> Void) {
        if tasks <= 0 { return }
        if tasks == 1 || workers.isEmpty {
            for index in 0..<tasks { body(index) }
            return
        }
        withoutActuallyEscaping(body) { escapable in
            pthread_mutex_lock(mutex)
            job = escapable
            taskCount = tasks
            nextTask.store(0, ordering: .relaxed)
            busyWorkers.store(workers.count, ordering: .relaxed)
            generation.wrappingAdd(1, ordering: .releasing)
            pthread_cond_broadcast(wake)
            pthread_mutex_unlock(mutex)
            drainTasks(escapable, count: tasks)
            var spins = 0
            while busyWorkers.load(ordering: .acquiring) > 0 {
                spins += 1
                if spins > 10_000 { sched_yield() }
            }
            job = nil
        }
    }

    /// Splits `0..<count` into about one contiguous chunk per thread (at least `minimumChunk` long)
    /// and runs `body` on each chunk in parallel.
    public func parallelFor(_ count: Int, minimumChunk: Int = 1, _ body: (Range<Int>) -> Void) {
        if count <= 0 { return }
        let chunks = max(1, min(threadCount, count / max(1, minimumChunk)))
        let size = (count + chunks - 1) / chunks
        run(tasks: chunks) { chunk in
            let start = chunk * size
            let end = min(count, start + size)
            if start < end { body(start..<end) }
        }
    }

    /// Runs tasks of the current job; returns with no reference to the job left on this thread,
    /// which `withoutActuallyEscaping` in `run` checks.
    @inline(never) private func takePart() {
        pthread_mutex_lock(mutex)
        let body = job
        let count = taskCount
        pthread_mutex_unlock(mutex)
        if let body { drainTasks(body, count: count) }
    }

    private func drainTasks(_ body: (Int) -> Void, count: Int) {
        while true {
            let index = nextTask.wrappingAdd(1, ordering: .relaxed).oldValue
            if index >= count { return }
            body(index)
        }
    }

    private func workerLoop() {
        var seen = 0
        while true {
            var spins = 0
            while generation.load(ordering: .acquiring) == seen && spins < 20_000 { spins += 1 }
            pthread_mutex_lock(mutex)
            while generation.load(ordering: .acquiring) == seen { pthread_cond_wait(wake, mutex) }
            seen = generation.load(ordering: .acquiring)
            pthread_mutex_unlock(mutex)
            if shuttingDown.load(ordering: .acquiring) { return }
            takePart()
            busyWorkers.wrappingSubtract(1, ordering: .releasing)
        }
    }
}
