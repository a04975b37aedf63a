import Dispatch
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How many threads the engine's own (non-BLAS) kernels use. Set once, before work starts, from
/// `--threads` or the machine's core count.
public enum ComputeThreads {
    nonisolated(unsafe) private static var configured: Int = 0

    public static var count: Int {
        configured > 0 ? configured : defaultCount
    }

    public static var defaultCount: Int {
        #if canImport(Glibc)
        return max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        #else
        return max(1, Int(sysconf(_SC_NPROCESSORS_ONLN)))
        #endif
    }

    /// Sets the thread count for the engine's kernels and for BLAS.
    public static func set(_ threads: Int) {
        configured = max(1, threads)
        BLAS.setThreads(configured)
    }
}

/// Runs `body(range)` over `0..<count` split into contiguous chunks, one per worker; `grain` is
/// the smallest chunk worth a thread. Runs inline when there is one worker or little work.
@inlinable
public func parallelFor(_ count: Int, grain: Int = 1, threads: Int = ComputeThreads.count,
                        _ body: (Range<Int>) -> Void) {
    guard count > 0 else { return }
    let workers = min(threads, max(1, count / max(grain, 1)))
    if workers <= 1 {
        body(0..<count)
        return
    }
    withoutActuallyEscaping(body) { body in
        // The kernels' closures capture raw buffer pointers; each worker touches a disjoint range.
        let shared = UncheckedSendable(body)
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            let start = count * worker / workers
            let end = count * (worker + 1) / workers
            if start < end { shared.value(start..<end) }
        }
    }
}

/// Carries a value across a concurrency boundary where the caller guarantees data-race freedom
/// (disjoint writes per worker).
public struct UncheckedSendable<Value>: @unchecked Sendable {
    public let value: Value
    @inlinable public init(_ value: Value) { self.value = value }
}
