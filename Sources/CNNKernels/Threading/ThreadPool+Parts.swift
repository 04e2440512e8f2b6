/// Per-part entry point of `ThreadPool.forEachPart(of:parts:context:_:)`: the caller's context, the part
/// number (usable as a per-thread workspace slot) and the part's range `[start, end)`.
public typealias ParallelPartTask = @convention(c) (_ context: UnsafeRawPointer, _ part: Int, _ start: Int, _ end: Int) -> Void

extension ThreadPool {
    /// Splits `0..<count` into `parts` contiguous ranges `[count·p/parts, count·(p+1)/parts)` and runs
    /// `task(context, p, start, end)` for every non-empty one in parallel. Each part number runs exactly
    /// once, so it can index per-thread workspaces. No heap allocation.
    @inlinable
    public func forEachPart<Context>(of count: Int, parts: Int, context: Context, _ task: ParallelPartTask) {
        if count <= 0 || parts <= 0 { return }
        withUnsafePointer(to: context) { pointer in
            run(tasks: parts, context: PartJob(context: UnsafeRawPointer(pointer), task: task, count: count, parts: parts)) { raw, part in
                let job = raw.load(as: PartJob.self)
                let start = job.count * part / job.parts, end = job.count * (part + 1) / job.parts
                if start < end { job.task(job.context, part, start, end) }
            }
        }
    }
}

/// The caller's context and task of one `forEachPart` call, as seen by the pool's tasks.
@usableFromInline struct PartJob {
    @usableFromInline let context: UnsafeRawPointer
    @usableFromInline let task: ParallelPartTask
    @usableFromInline let count: Int
    @usableFromInline let parts: Int

    @usableFromInline init(context: UnsafeRawPointer, task: ParallelPartTask, count: Int, parts: Int) {
        self.context = context
        self.task = task
        self.count = count
        self.parts = parts
    }
}
