#if canImport(Accelerate)
import Accelerate
#else
import CBLAS
#endif

/// The BLAS seam: the only place that calls a BLAS library.
public enum BLAS {
    public static func setThreads(_ threads: Int) {
        #if !canImport(Accelerate)
        openblas_set_num_threads(Int32(threads))
        #endif
    }
}

public enum Transpose: Sendable {
    case none, transposed
}

/// C[m×n] = alpha · op(A)[m×k] · op(B)[k×n] + beta · C, row-major, with leading dimensions so
/// callers can read and write sub-blocks (e.g. new channels into a wider NHWC buffer).
@inlinable
public func gemm(
    _ transA: Transpose, _ transB: Transpose,
    m: Int, n: Int, k: Int,
    alpha: Float = 1,
    a: UnsafePointer<Float>, lda: Int,
    b: UnsafePointer<Float>, ldb: Int,
    beta: Float = 0,
    c: UnsafeMutablePointer<Float>, ldc: Int
) {
    guard m > 0, n > 0 else { return }
    #if canImport(Accelerate)
    let ta = transA == .none ? CblasNoTrans : CblasTrans
    let tb = transB == .none ? CblasNoTrans : CblasTrans
    #else
    let ta = transA == .none ? CblasNoTrans : CblasTrans
    let tb = transB == .none ? CblasNoTrans : CblasTrans
    #endif
    cblas_sgemm(CblasRowMajor, ta, tb, Int32(m), Int32(n), Int32(k), alpha,
                a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
}
