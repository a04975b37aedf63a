#if canImport(Accelerate)
import Accelerate
#else
import CBLAS
#endif

/// Runs `body` with BLAS limited to `threads`, then restores the previous count (nests).
/// The BLAS thread count is process-wide: a concurrent caller's GEMMs run with it meanwhile,
/// which costs speed, never correctness. (Accelerate manages its own threads: no-op there.)
public func withBLASThreads<R>(_ threads: Int, _ body: () throws -> R) rethrows -> R {
    #if canImport(Accelerate)
    return try body()
    #else
    let previous = Int(openblas_get_num_threads())
    if previous == threads { return try body() }
    openblas_set_num_threads(Int32(threads))
    defer { openblas_set_num_threads(Int32(previous)) }
    return try body()
    #endif
}

/// A linear layer over token rows, c[m×n] = a[m×k]·wᵀ + (bias per row, or c when `accumulate`),
/// with w in PyTorch's n×k layout, split into one block per engine thread, each block one
/// single-threaded BLAS call (call it inside `withBLASThreads(1)`).
///
/// Why not let BLAS thread each GEMM: on few cores the engine's own element-wise passes and
/// attention run between GEMMs, and OpenBLAS's idle workers spin (sched_yield) through them,
/// competing for the same cores; with every thread the engine's, nothing spins.
/// Blocks: each block's BLAS call packs its own copy of the operand that is not split, so the
/// smaller operand is the one duplicated: output columns (weight rows) are split when there are
/// fewer token rows than outputs (m < n), token rows otherwise.
/// The bias is written into c before the product is accumulated onto it (beta 1), which also
/// spares the zeroing pass BLAS makes for beta 0.
public func linearRows(
    _ a: UnsafePointer<Float>, rows m: Int, inputs k: Int, lda: Int? = nil,
    weight: UnsafePointer<Float>, outputs n: Int, bias: UnsafePointer<Float>?, accumulate: Bool = false,
    output c: UnsafeMutablePointer<Float>, ldc: Int? = nil, threads: Int = ComputeThreads.count
) {
    let lda = lda ?? k, ldc = ldc ?? n
    precondition(!(accumulate && bias != nil), "linearRows: add the bias of an accumulated product separately")
    guard m > 0, n > 0 else { return }
    let splitColumns = m < n
    // Blocks of at least 32 rows or columns: below that, packing dominates.
    let workers = max(1, min(threads, (splitColumns ? n : m) / 32))
    let shared = UncheckedSendable((a, weight, bias, c))
    parallelFor(workers, grain: 1, threads: workers) { range in
        let (a, weight, bias, c) = shared.value
        for worker in range {
            let size = splitColumns ? n : m
            let first = size * worker / workers, last = size * (worker + 1) / workers
            // this block: rows × columns of c at `out`
            let (rows, columns) = splitColumns ? (m, last - first) : (last - first, n)
            let out = splitColumns ? c + first : c + first * ldc
            let input = splitColumns ? a : a + first * lda
            let weights = splitColumns ? weight + first * k : weight
            if let bias {
                let b = splitColumns ? bias + first : bias
                for r in 0..<rows { (out + r * ldc).update(from: b, count: columns) }
            }
            gemm(.none, .transposed, m: rows, n: columns, k: k, a: input, lda: lda, b: weights, ldb: k,
                 beta: accumulate || bias != nil ? 1 : 0, c: out, ldc: ldc)
        }
    }
}
