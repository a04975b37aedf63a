import CBirderKernels
import Dispatch

/// Runs `body(worker, chunk)` for chunks 0..<count on up to `workers` threads (worker is in
/// 0..<min(workers, count), so callers can index per-worker scratch). Chunks are handed out one at
/// a time from a shared atomic counter: a worker slowed down by another process simply takes
/// fewer. Runs inline when one worker suffices.
public func forEachChunk(_ count: Int, workers: Int = ComputeThreads.count,
                         _ body: (_ worker: Int, _ chunk: Int) -> Void) {
    guard count > 0 else { return }
    let threads = min(max(workers, 1), count)
    if threads == 1 {
        for chunk in 0..<count { body(0, chunk) }
        return
    }
    let counter = UnsafeMutablePointer<bk_counter>.allocate(capacity: 1)
    counter.initialize(to: bk_counter(value: 0))
    defer { counter.deallocate() }
    withoutActuallyEscaping(body) { body in
        // Workers touch disjoint data chosen by their chunk; the counter is atomic.
        let shared = UncheckedSendable((body, counter))
        DispatchQueue.concurrentPerform(iterations: threads) { worker in
            let (body, counter) = shared.value
            while true {
                let chunk = bk_counter_next(counter)
                if chunk >= count { break }
                body(worker, chunk)
            }
        }
    }
}
