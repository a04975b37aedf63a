#if canImport(Accelerate)
import Accelerate
#else
import CBLAS
#endif

/// The BLAS seam: the only place that calls a BLAS library. The engine's own packed GEMM runs
/// the networks' linear layers; BLAS is left with products of operands that change every call
/// (attention's Q·Kᵀ and S·V, classifier heads), each on one of the context's workers. BLAS
/// therefore always runs single-threaded: its thread pool would compete with the context's.
enum BLAS {
    /// Sets OpenBLAS to one thread, once per process (the same value every time, so it is no
    /// shared state anybody depends on changing). Accelerate manages its own threads.
    static let singleThreaded: Void = {
        #if !canImport(Accelerate)
        openblas_set_num_threads(1)
        #endif
    }()
}

package enum Transpose: Sendable {
    case none, transposed
}

/// C[m×n] = alpha · op(A)[m×k] · op(B)[k×n] + beta · C, row-major, with leading dimensions so
/// callers can read and write sub-blocks, on the calling thread.
package func gemm(
    _ transA: Transpose, _ transB: Transpose,
    m: Int, n: Int, k: Int,
    alpha: Float = 1,
    a: UnsafePointer<Float>, lda: Int,
    b: UnsafePointer<Float>, ldb: Int,
    beta: Float = 0,
    c: UnsafeMutablePointer<Float>, ldc: Int
) {
    guard m > 0, n > 0 else { return }
    BLAS.singleThreaded
    let ta = transA == .none ? CblasNoTrans : CblasTrans
    let tb = transB == .none ? CblasNoTrans : CblasTrans
    cblas_sgemm(CblasRowMajor, ta, tb, Int32(m), Int32(n), Int32(k), alpha,
                a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
}

extension ComputeContext {
    /// `gemm` on the context's workers: C is cut into one block of rows (or of columns, when it
    /// has fewer rows than columns) per worker, each block one single-threaded BLAS call. Blocks
    /// are at least 32 rows or columns: below that, each call's packing dominates.
    package func gemm(_ transA: Transpose, _ transB: Transpose, m: Int, n: Int, k: Int, alpha: Float = 1,
                      a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                      beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
        guard m > 0, n > 0 else { return }
        let splitColumns = m < n
        let workers = max(1, min(threads, (splitColumns ? n : m) / 32))
        let shared = UncheckedSendable((a, b, c))
        parallelFor(workers) { range in
            let (a, b, c) = shared.value
            for worker in range {
                let size = splitColumns ? n : m
                let first = size * worker / workers, last = size * (worker + 1) / workers
                if splitColumns {
                    // columns first..<last of op(B) and C
                    let block = transB == .none ? b + first : b + first * ldb
                    BirderCore.gemm(transA, transB, m: m, n: last - first, k: k, alpha: alpha, a: a, lda: lda,
                                    b: block, ldb: ldb, beta: beta, c: c + first, ldc: ldc)
                } else {
                    // rows first..<last of op(A) and C
                    let block = transA == .none ? a + first * lda : a + first
                    BirderCore.gemm(transA, transB, m: last - first, n: n, k: k, alpha: alpha, a: block, lda: lda,
                                    b: b, ldb: ldb, beta: beta, c: c + first * ldc, ldc: ldc)
                }
            }
        }
    }
}
