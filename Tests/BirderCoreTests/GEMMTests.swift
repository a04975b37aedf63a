import Testing
@testable import BirderCore
import BirderTestSupport

@Suite struct GEMMTests {
    /// Naive reference: C = op(A)·op(B).
    func naive(_ ta: Transpose, _ tb: Transpose, m: Int, n: Int, k: Int, a: [Float], b: [Float]) -> [Float] {
        var c = [Float](repeating: 0, count: m * n)
        for i in 0..<m { for j in 0..<n {
            var s: Double = 0
            for p in 0..<k {
                let av = ta == .none ? a[i * k + p] : a[p * m + i]
                let bv = tb == .none ? b[p * n + j] : b[j * k + p]
                s += Double(av) * Double(bv)
            }
            c[i * n + j] = Float(s)
        } }
        return c
    }

    @Test(arguments: [(Transpose.none, Transpose.none), (.none, .transposed), (.transposed, .none), (.transposed, .transposed)])
    func matchesNaive(ta: Transpose, tb: Transpose) {
        var rng = TestRandom(seed: 7)
        let m = 13, n = 29, k = 37
        let a = rng.floats(m * k), b = rng.floats(k * n)
        var c = [Float](repeating: 0, count: m * n)
        a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in c.withUnsafeMutableBufferPointer { pc in
            gemm(ta, tb, m: m, n: n, k: k, a: pa.baseAddress!, lda: ta == .none ? k : m,
                 b: pb.baseAddress!, ldb: tb == .none ? n : k, c: pc.baseAddress!, ldc: n)
        } } }
        let (diff, _) = maxAbsDifference(c, naive(ta, tb, m: m, n: n, k: k, a: a, b: b))
        #expect(diff < 1e-4)
    }

    /// Writing into a column block of a wider matrix (ldc > n) leaves the other columns alone.
    @Test func leadingDimensionWritesSubBlock() {
        let m = 4, n = 3, k = 2, ldc = 7
        let a: [Float] = (0..<(m * k)).map(Float.init), b: [Float] = (0..<(k * n)).map { Float($0) - 2 }
        var c = [Float](repeating: -9, count: m * ldc)
        a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in c.withUnsafeMutableBufferPointer { pc in
            gemm(.none, .none, m: m, n: n, k: k, a: pa.baseAddress!, lda: k, b: pb.baseAddress!, ldb: n,
                 c: pc.baseAddress! + 2, ldc: ldc)
        } } }
        let ref = naive(.none, .none, m: m, n: n, k: k, a: a, b: b)
        for i in 0..<m { for j in 0..<ldc {
            if (2..<5).contains(j) { #expect(c[i * ldc + j] == ref[i * n + j - 2]) } else { #expect(c[i * ldc + j] == -9) }
        } }
    }
}
