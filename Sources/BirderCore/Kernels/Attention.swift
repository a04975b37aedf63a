import CBirderKernels

/// How `multiHeadSelfAttention` spreads its (image, head) problems over cores.
public enum AttentionParallelism: Sendable {
    /// One (image, head) pair per worker at a time, BLAS single-threaded inside (many small
    /// independent GEMMs: no fork/join per GEMM).
    case pairs
    /// Pairs one after another, each GEMM threaded by BLAS.
    case blas
}

/// The core of multi-head self-attention, softmax(q·kᵀ·scale)·v for every (image, head), straight
/// off the fused qkv projection: no q/k/v copies, no head transposes.
///
/// - qkv: (batch·tokens)×(3·heads·headDim); row t = [q (heads·headDim) | k | v], head h at columns
///   h·headDim..<(h+1)·headDim of each part (PyTorch's `reshape(B, N, 3, heads, d)`).
/// - output: (batch·tokens)×(heads·headDim), head h written into its column slice (the layout
///   `transpose(1, 2).reshape(B, N, C)` gives), ready for the output projection.
///
/// Scores are two GEMMs with leading dimensions per (image, head): S = Q·Kᵀ (tokens×tokens), then
/// softmax with the scale fused, then O = S·V written with ldc = heads·headDim.
public func multiHeadSelfAttention(
    qkv: UnsafePointer<Float>, batch: Int, tokens: Int, heads: Int, headDim: Int, scale: Float,
    output: UnsafeMutablePointer<Float>, parallelism: AttentionParallelism = .pairs,
    threads: Int = ComputeThreads.count
) {
    let width = heads * headDim, rowStride = 3 * width
    let pairs = batch * heads
    guard pairs > 0, tokens > 0 else { return }
    let workers = parallelism == .pairs ? max(1, min(threads, pairs)) : 1
    // tokens×tokens scores per worker
    let scores = UnsafeMutablePointer<Float>.allocate(capacity: workers * tokens * tokens)
    defer { scores.deallocate() }
    // the next pair to solve, shared by the workers
    let next = UnsafeMutablePointer<bk_counter>.allocate(capacity: 1)
    next.initialize(to: bk_counter(value: 0))
    defer { next.deallocate() }

    let shared = UncheckedSendable((qkv, output, scores, next))
    let solve = { (pair: Int, scratch: UnsafeMutablePointer<Float>) in
        let (qkv, output, _, _) = shared.value
        let image = pair / heads, head = pair % heads
        let rows = qkv + image * tokens * rowStride
        let q = rows + head * headDim              // tokens×headDim, ld 3·width
        let k = rows + width + head * headDim      // tokens×headDim, ld 3·width
        let v = rows + 2 * width + head * headDim  // tokens×headDim, ld 3·width
        // S = Q·Kᵀ: tokens×tokens
        gemm(.none, .transposed, m: tokens, n: tokens, k: headDim, a: q, lda: rowStride,
             b: k, ldb: rowStride, c: scratch, ldc: tokens)
        scaledSoftmaxRows(scratch, rows: tokens, columns: tokens, scale: scale)
        // O = softmax(S)·V: tokens×headDim into the head's columns of the output
        gemm(.none, .none, m: tokens, n: headDim, k: tokens, a: scratch, lda: tokens,
             b: v, ldb: rowStride, c: output + image * tokens * width + head * headDim, ldc: width)
    }

    if workers == 1 {
        for pair in 0..<pairs { solve(pair, scores) }
        return
    }
    withBLASThreads(1) {
        parallelFor(workers, grain: 1, threads: workers) { range in
            for worker in range {
                let scratch = shared.value.2 + worker * tokens * tokens
                // Pairs handed out one at a time: a worker delayed by another process on its
                // core does not hold the others up at the end.
                while true {
                    let pair = bk_counter_next(shared.value.3)
                    if pair >= pairs { break }
                    solve(pair, scratch)
                }
            }
        }
    }
}

/// Row softmax of `scale·x` in place, single-threaded (callers parallelise over rows or problems),
/// max-subtracted like PyTorch, exponentials vectorised (CBirderKernels).
public func scaledSoftmaxRows(_ x: UnsafeMutablePointer<Float>, rows: Int, columns: Int, stride: Int? = nil,
                              scale: Float) {
    tk_softmax_rows(x, stride ?? columns, Int32(rows), Int32(columns), scale)
}
