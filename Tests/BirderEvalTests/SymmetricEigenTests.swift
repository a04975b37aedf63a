import BirderTestSupport
import Testing
@testable import BirderEval

@Suite struct SymmetricEigenTests {
    @Test func decomposesRandomSymmetricMatrices() throws {
        var random = TestRandom(seed: 3)
        for n in [1, 2, 5, 40, 120] {
            var a = [Double](repeating: 0, count: n * n)
            for i in 0..<n { for j in 0...i { let v = Double(random.uniform()); a[i * n + j] = v; a[j * n + i] = v } }
            let eigen = try #require(SymmetricEigen(matrix: a, n: n))
            var residual = 0.0, orthogonality = 0.0
            for k in 0..<n {
                let v = Array(eigen.vectors[(k * n)..<(k * n + n)])
                for i in 0..<n {
                    var av = 0.0
                    for j in 0..<n { av += a[i * n + j] * v[j] }
                    residual = max(residual, abs(av - eigen.values[k] * v[i]))
                }
                for l in 0..<n {
                    var dot = 0.0
                    for i in 0..<n { dot += v[i] * eigen.vectors[l * n + i] }
                    orthogonality = max(orthogonality, abs(dot - (k == l ? 1 : 0)))
                }
            }
            #expect(residual < 1e-12 * Double(n))
            #expect(orthogonality < 1e-12 * Double(n))
            #expect(zip(eigen.values, eigen.values.dropFirst()).allSatisfy { $0 <= $1 })
        }
    }

    @Test func diagonalAndRepeatedEigenvalues() throws {
        let eigen = try #require(SymmetricEigen(matrix: [3, 0, 0, 0, 1, 0, 0, 0, 1], n: 3))
        #expect(eigen.values.map { ($0 * 1e12).rounded() / 1e12 } == [1, 1, 3])
    }
}
