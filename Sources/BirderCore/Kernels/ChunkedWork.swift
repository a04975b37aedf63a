import CBirderKernels
import Dispatch

/// Runs `body(worker, chunk)` for chunks 0..<count on up to `workers` threads (worker is in
/// 0..<min(workers, count), so callers can index per-worker scratch).
///
/// Each worker owns a contiguous run of chunks and takes them in order (so a worker's chunks
/// are usually consecutive and it can keep state, e.g. the depthwise conv's row ring, from one to
/// the next); a worker that finishes its run helps with the others' remaining chunks, so one slowed
/// down by another process simply does less. Runs inline when one worker suffices.
public func forEachChunk(_ count: Int, workers: Int = ComputeThreads.count,
                         _ body: (_ worker: Int, _ chunk: Int) -> Void) {
    guard count > 0 else { return }
    let threads = min(max(workers, 1), count)
    if threads == 1 {
        for chunk in 0..<count { body(0, chunk) }
        return
    }
    // Run r is chunks [ends[r-1], ends[r]); counters[r] is its next unclaimed chunk.
    let counters = UnsafeMutablePointer<bk_counter>.allocate(capacity: threads)
    defer { counters.deallocate() }
    for r in 0..<threads { (counters + r).initialize(to: bk_counter(value: count * r / threads)) }
    withoutActuallyEscaping(body) { body in
        // Workers touch disjoint data chosen by their chunk; the counters are atomic.
        let shared = UncheckedSendable((body, counters))
        DispatchQueue.concurrentPerform(iterations: threads) { worker in
            let (body, counters) = shared.value
            for step in 0..<threads {
                let run = (worker + step) % threads
                let end = count * (run + 1) / threads
                while true {
                    let chunk = bk_counter_next(counters + run)
                    if chunk >= end { break }
                    body(worker, chunk)
                }
            }
        }
    }
}
