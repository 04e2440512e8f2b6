/// Per-task entry point of `ThreadPool.run(tasks:context:_:)`: called with a pointer to the caller's
/// context value and the task index. A C-convention function cannot capture, so workers can call it
/// without retaining or allocating anything; everything it needs comes through `context`.
public typealias ParallelTask = @convention(c) (_ context: UnsafeRawPointer, _ index: Int) -> Void

/// Per-chunk entry point of `ThreadPool.parallelFor(_:minimumChunk:chunkAlignment:context:_:)`: called
/// with a pointer to the caller's context value and one chunk `[start, end)` of the index range.
public typealias ParallelRangeTask = @convention(c) (_ context: UnsafeRawPointer, _ start: Int, _ end: Int) -> Void

/// One job of the pool: a context pointer and a C function pointer (trivially copyable, nothing retained).
/// `tickets` units of work are handed out; ticket `t` runs either the tasks
/// `count·t/tickets ..< count·(t+1)/tickets` (index form) or the chunk `[t·chunk, min(count, (t+1)·chunk))`.
@usableFromInline struct ParallelJob {
    @usableFromInline var context: UnsafeRawPointer
    @usableFromInline var task: ParallelTask?
    @usableFromInline var rangeTask: ParallelRangeTask?
    @usableFromInline var count: Int
    @usableFromInline var tickets: Int
    @usableFromInline var chunk: Int

    @usableFromInline init(context: UnsafeRawPointer, task: ParallelTask?, rangeTask: ParallelRangeTask?,
                           count: Int, tickets: Int, chunk: Int) {
        self.context = context
        self.task = task
        self.rangeTask = rangeTask
        self.count = count
        self.tickets = tickets
        self.chunk = chunk
    }

    /// Runs the work of ticket `ticket` (0 ≤ ticket < tickets) on the calling thread.
    @inline(__always) func perform(_ ticket: Int) {
        if let rangeTask {
            let start = ticket * chunk
            let end = min(count, start + chunk)
            if start < end { rangeTask(context, start, end) }
        } else if let task {
            if tickets == count {
                task(context, ticket)
            } else {
                for index in (count * ticket / tickets)..<(count * (ticket + 1) / tickets) { task(context, index) }
            }
        }
    }
}
