import BirderCore
import Foundation

/// Tall-and-skinny double-precision block operations for the sparse eigensolver (n × m blocks,
/// row-major, m small). Reductions run over a fixed number of row chunks added in order, so the
/// results do not depend on the thread count.
enum DenseBlock {
    private static func chunkCount(_ n: Int) -> Int { max(1, min(64, n / 512)) }

    /// Aᵀ·B for A (n × p) and B (n × q): p × q.
    static func transposeTimes(_ a: [Double], _ b: [Double], n: Int, p: Int, q: Int, context: ComputeContext) -> [Double] {
        let chunks = chunkCount(n)
        var partial = [Double](repeating: 0, count: chunks * p * q)
        a.withUnsafeBufferPointer { aBuffer in
            b.withUnsafeBufferPointer { bBuffer in
                partial.withUnsafeMutableBufferPointer { out in
                    let shared = UncheckedSendable((aBuffer.baseAddress!, bBuffer.baseAddress!, out.baseAddress!))
                    context.parallelFor(chunks, grain: 1) { range in
                        let (a, b, out) = shared.value
                        for chunk in range {
                            let acc = out + chunk * p * q
                            for i in (n * chunk / chunks)..<(n * (chunk + 1) / chunks) {
                                let rowA = a + i * p, rowB = b + i * q
                                for s in 0..<p {
                                    let v = rowA[s]
                                    let target = acc + s * q
                                    for t in 0..<q { target[t] += v * rowB[t] }
                                }
                            }
                        }
                    }
                }
            }
        }
        var result = [Double](repeating: 0, count: p * q)
        for chunk in 0..<chunks { for e in 0..<(p * q) { result[e] += partial[chunk * p * q + e] } }
        return result
    }

    /// A·M for A (n × p) and M (p × q): n × q.
    static func times(_ a: [Double], _ m: [Double], n: Int, p: Int, q: Int, context: ComputeContext) -> [Double] {
        var out = [Double](repeating: 0, count: n * q)
        a.withUnsafeBufferPointer { aBuffer in
            m.withUnsafeBufferPointer { mBuffer in
                out.withUnsafeMutableBufferPointer { outBuffer in
                    let shared = UncheckedSendable((aBuffer.baseAddress!, mBuffer.baseAddress!, outBuffer.baseAddress!))
                    context.parallelFor(n, grain: 256) { range in
                        let (a, m, out) = shared.value
                        for i in range {
                            let row = a + i * p, target = out + i * q
                            for s in 0..<p {
                                let v = row[s]
                                if v == 0 { continue }
                                let source = m + s * q
                                for t in 0..<q { target[t] += v * source[t] }
                            }
                        }
                    }
                }
            }
        }
        return out
    }

    /// Orthonormal basis of the column space of Y (n × m) by the eigen-decomposition of YᵀY
    /// (SVQB); directions with relative weight below 1e-12 are dropped. Returns the basis and its
    /// column count, and the smallest to largest eigenvalue ratio of YᵀY among the kept
    /// directions (one pass leaves errors of about ε / ratio).
    static func orthonormalize(_ y: [Double], n: Int, m: Int, context: ComputeContext) -> (basis: [Double], columns: Int, conditionRatio: Double)? {
        var gram = transposeTimes(y, y, n: n, p: m, q: m, context: context)
        for i in 0..<m { for j in 0..<i { let v = (gram[i * m + j] + gram[j * m + i]) / 2; gram[i * m + j] = v; gram[j * m + i] = v } }
        guard let eigen = SymmetricEigen(matrix: gram, n: m) else { return nil }
        let largest = eigen.values.last ?? 0
        guard largest > 0, largest.isFinite else { return nil }
        var kept = [Int]()
        for j in 0..<m where eigen.values[j] > 1e-12 * largest { kept.append(j) }
        let r = kept.count
        var transform = [Double](repeating: 0, count: m * r)
        for (c, j) in kept.enumerated() {
            let scale = 1 / eigen.values[j].squareRoot()
            for i in 0..<m { transform[i * r + c] = eigen.vectors[j * m + i] * scale }
        }
        return (times(y, transform, n: n, p: m, q: r, context: context), r, eigen.values[kept[0]] / largest)
    }
}
