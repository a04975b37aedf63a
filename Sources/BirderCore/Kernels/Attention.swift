import CBirderKernels

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
///
/// (image, head) pairs are handed out one at a time to the context's workers, each pair's GEMMs
/// single-threaded on its worker (many small independent products: no fork/join per GEMM).
package func multiHeadSelfAttention(
    qkv: UnsafePointer<Float>, batch: Int, tokens: Int, heads: Int, headDim: Int, scale: Float,
    output: UnsafeMutablePointer<Float>, context: ComputeContext
) {
    let width = heads * headDim, rowStride = 3 * width
    let pairs = batch * heads
    guard pairs > 0, tokens > 0 else { return }
    let workers = max(1, min(context.threads, pairs))
    let kernels = context.kernels
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
        kernels.scaledSoftmaxRows(scratch, rows: tokens, columns: tokens, scale: scale)
        // O = softmax(S)·V: tokens×headDim into the head's columns of the output
        gemm(.none, .none, m: tokens, n: headDim, k: tokens, a: scratch, lda: tokens,
             b: v, ldb: rowStride, c: output + image * tokens * width + head * headDim, ldc: width)
    }

    if workers == 1 {
        for pair in 0..<pairs { solve(pair, scores) }
        return
    }
    context.forEachChunk(workers) { _, worker in
        let scratch = shared.value.2 + worker * tokens * tokens
        // Pairs handed out one at a time: a worker delayed by another process on its core does
        // not hold the others up at the end.
        while true {
            let pair = bk_counter_next(shared.value.3)
            if pair >= pairs { break }
            solve(pair, scratch)
        }
    }
}
