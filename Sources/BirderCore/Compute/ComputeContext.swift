import CBirderKernels
import Dispatch
import Foundation

/// Where and how the engine computes: how many threads one call may use and which kernel set
/// runs. Passed down to every layer; nothing is process-wide, so two contexts with different
/// budgets can run side by side in one process (a server with two models, a test).
///
/// Scratch memory is allocated per call from the shapes of that call, so a context is a value
/// that can be shared between threads.
public struct ComputeContext: Sendable {
    /// Threads one call may use (the calling thread counts as one).
    public let threads: Int
    public let instructionSet: InstructionSet
    package let kernels: KernelTable
    /// Records how many workers ran at once, so callers and tests can see the budget was kept.
    package let activity: WorkerActivity

    /// The most threads a context accepts: far above any core count, below what would exhaust
    /// the process.
    public static let maximumThreads = 1024

    /// - threads: nil means every core of the machine.
    /// - instructionSet: nil means `BIRDER_ISA` when it is set, else the best the CPU runs.
    public init(threads: Int? = nil, instructionSet: InstructionSet? = nil) throws(ComputeError) {
        let count = threads ?? ComputeContext.coreCount
        guard (1...ComputeContext.maximumThreads).contains(count) else { throw .invalidThreadCount(count) }
        let set: InstructionSet
        if let instructionSet { set = instructionSet } else { set = try InstructionSet.preferred() }
        self.threads = count
        self.instructionSet = set
        kernels = try KernelTable(set)
        activity = WorkerActivity()
    }

    /// Every core and the best kernels this CPU runs (or those `BIRDER_ISA` names, when it names
    /// a set this CPU runs): the default of the convenience entry points.
    public static var automatic: ComputeContext {
        if let context = try? ComputeContext() { return context }
        // `BIRDER_ISA` names no usable set: the entry points that take a context say so.
        return try! ComputeContext(instructionSet: .best)
    }

    /// The same kernels with another thread budget (a fresh activity record).
    public func withThreads(_ threads: Int) throws(ComputeError) -> ComputeContext {
        try ComputeContext(threads: threads, instructionSet: instructionSet)
    }

    /// The most workers seen running at once in this context's parallel regions so far.
    public var peakWorkers: Int { activity.peak }

    /// Online cores of this machine.
    public static var coreCount: Int {
        #if canImport(Glibc)
        return max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        #else
        return max(1, Int(sysconf(_SC_NPROCESSORS_ONLN)))
        #endif
    }

    /// Runs `body(range)` over `0..<count` split into contiguous chunks, one per worker; `grain`
    /// is the smallest chunk worth a thread. Runs inline when one worker suffices.
    package func parallelFor(_ count: Int, grain: Int = 1, _ body: (Range<Int>) -> Void) {
        guard count > 0 else { return }
        let workers = min(threads, max(1, count / max(grain, 1)))
        if workers <= 1 {
            activity.enter()
            defer { activity.leave() }
            body(0..<count)
            return
        }
        withoutActuallyEscaping(body) { body in
            // The kernels' closures capture raw buffer pointers; each worker touches a disjoint range.
            let shared = UncheckedSendable(body)
            let activity = activity
            DispatchQueue.concurrentPerform(iterations: workers) { worker in
                activity.enter()
                defer { activity.leave() }
                let start = count * worker / workers
                let end = count * (worker + 1) / workers
                if start < end { shared.value(start..<end) }
            }
        }
    }

    /// Runs `body(worker, chunk)` for chunks 0..<count on up to `threads` workers (worker is in
    /// 0..<min(threads, count), so callers can index per-worker scratch).
    ///
    /// Each worker owns a contiguous run of chunks and takes them in order (so a worker's chunks
    /// are usually consecutive and it can keep state, e.g. the depthwise conv's row ring, from one
    /// to the next); a worker that finishes its run helps with the others' remaining chunks, so
    /// one slowed down by another process simply does less. Runs inline when one worker suffices.
    package func forEachChunk(_ count: Int, _ body: (_ worker: Int, _ chunk: Int) -> Void) {
        guard count > 0 else { return }
        let workers = min(threads, count)
        if workers == 1 {
            activity.enter()
            defer { activity.leave() }
            for chunk in 0..<count { body(0, chunk) }
            return
        }
        // Run r is chunks [ends[r-1], ends[r]); counters[r] is its next unclaimed chunk.
        let counters = UnsafeMutablePointer<bk_counter>.allocate(capacity: workers)
        defer { counters.deallocate() }
        for r in 0..<workers { (counters + r).initialize(to: bk_counter(value: count * r / workers)) }
        withoutActuallyEscaping(body) { body in
            // Workers touch disjoint data chosen by their chunk; the counters are atomic.
            let shared = UncheckedSendable((body, counters))
            let activity = activity
            DispatchQueue.concurrentPerform(iterations: workers) { worker in
                activity.enter()
                defer { activity.leave() }
                let (body, counters) = shared.value
                for step in 0..<workers {
                    let run = (worker + step) % workers
                    let end = count * (run + 1) / workers
                    while true {
                        let chunk = bk_counter_next(counters + run)
                        if chunk >= end { break }
                        body(worker, chunk)
                    }
                }
            }
        }
    }
}

/// Counts the workers inside a context's parallel regions and keeps the peak.
package final class WorkerActivity: @unchecked Sendable {
    private let lock = NSLock()
    private var running = 0
    private var highest = 0

    package init() {}

    func enter() {
        lock.lock()
        running += 1
        if running > highest { highest = running }
        lock.unlock()
    }

    func leave() {
        lock.lock()
        running -= 1
        lock.unlock()
    }

    package var peak: Int { lock.withLock { highest } }
}
