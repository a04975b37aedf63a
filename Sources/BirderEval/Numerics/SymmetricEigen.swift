import Foundation

/// Eigen-decomposition of a dense symmetric matrix: Householder reduction to tridiagonal form
/// followed by the implicit QL algorithm (the EISPACK tred2/tql2 pair). Used for small matrices:
/// PCA of a few dozen dimensions, Rayleigh–Ritz steps, component layouts.
struct SymmetricEigen {
    /// Eigenvalues in ascending order.
    var values: [Double]
    /// Eigenvectors as rows: `vectors[j * n + k]` is component k of the eigenvector for `values[j]`.
    var vectors: [Double]
    var n: Int

    /// Returns nil when the QL iteration does not converge (which needs pathological input).
    /// `matrix` is row-major n × n; only symmetric input is meaningful.
    init?(matrix: [Double], n: Int) {
        precondition(matrix.count == n * n, "SymmetricEigen: \(matrix.count) values for \(n) × \(n)")
        self.n = n
        guard n > 0 else { values = []; vectors = []; return }
        var v = matrix  // V[k][j] = v[k * n + j]
        var d = [Double](repeating: 0, count: n)
        var e = [Double](repeating: 0, count: n)
        Self.tridiagonalize(&v, &d, &e, n)
        // QL works on eigenvector rows so its rotations touch contiguous memory.
        var w = [Double](repeating: 0, count: n * n)
        for k in 0..<n { for j in 0..<n { w[j * n + k] = v[k * n + j] } }
        guard Self.implicitQL(&w, &d, &e, n) else { return nil }
        // Selection sort: ascending eigenvalues, rows moved along.
        for i in 0..<(n - 1) {
            var best = i
            for j in (i + 1)..<n where d[j] < d[best] { best = j }
            if best != i {
                d.swapAt(i, best)
                for k in 0..<n { w.swapAt(i * n + k, best * n + k) }
            }
        }
        values = d
        vectors = w
    }

    private static func tridiagonalize(_ v: inout [Double], _ d: inout [Double], _ e: inout [Double], _ n: Int) {
        for j in 0..<n { d[j] = v[(n - 1) * n + j] }
        var i = n - 1
        while i > 0 {
            var scale = 0.0, h = 0.0
            for k in 0..<i { scale += abs(d[k]) }
            if scale == 0 {
                e[i] = d[i - 1]
                for j in 0..<i {
                    d[j] = v[(i - 1) * n + j]
                    v[i * n + j] = 0
                    v[j * n + i] = 0
                }
            } else {
                for k in 0..<i {
                    d[k] /= scale
                    h += d[k] * d[k]
                }
                var f = d[i - 1]
                var g = h.squareRoot()
                if f > 0 { g = -g }
                e[i] = scale * g
                h -= f * g
                d[i - 1] = f - g
                for j in 0..<i { e[j] = 0 }
                for j in 0..<i {
                    f = d[j]
                    v[j * n + i] = f
                    g = e[j] + v[j * n + j] * f
                    if j + 1 <= i - 1 {
                        for k in (j + 1)...(i - 1) {
                            g += v[k * n + j] * d[k]
                            e[k] += v[k * n + j] * f
                        }
                    }
                    e[j] = g
                }
                f = 0
                for j in 0..<i {
                    e[j] /= h
                    f += e[j] * d[j]
                }
                let hh = f / (h + h)
                for j in 0..<i { e[j] -= hh * d[j] }
                for j in 0..<i {
                    f = d[j]
                    g = e[j]
                    for k in j...(i - 1) { v[k * n + j] -= (f * e[k] + g * d[k]) }
                    d[j] = v[(i - 1) * n + j]
                    v[i * n + j] = 0
                }
            }
            d[i] = h
            i -= 1
        }
        for i in 0..<(n - 1) {
            v[(n - 1) * n + i] = v[i * n + i]
            v[i * n + i] = 1
            let h = d[i + 1]
            if h != 0 {
                for k in 0...i { d[k] = v[k * n + i + 1] / h }
                for j in 0...i {
                    var g = 0.0
                    for k in 0...i { g += v[k * n + i + 1] * v[k * n + j] }
                    for k in 0...i { v[k * n + j] -= g * d[k] }
                }
            }
            for k in 0...i { v[k * n + i + 1] = 0 }
        }
        for j in 0..<n {
            d[j] = v[(n - 1) * n + j]
            v[(n - 1) * n + j] = 0
        }
        v[(n - 1) * n + n - 1] = 1
        e[0] = 0
    }

    /// `w` holds eigenvector rows (the transpose of the accumulated transformation).
    private static func implicitQL(_ w: inout [Double], _ d: inout [Double], _ e: inout [Double], _ n: Int) -> Bool {
        for i in 1..<max(n, 1) { e[i - 1] = e[i] }
        e[n - 1] = 0
        var f = 0.0, tst1 = 0.0
        let eps = Double.ulpOfOne
        for l in 0..<n {
            tst1 = max(tst1, abs(d[l]) + abs(e[l]))
            var m = l
            while m < n {
                if abs(e[m]) <= eps * tst1 { break }
                m += 1
            }
            if m > l {
                var iterations = 0
                repeat {
                    iterations += 1
                    if iterations > 100 { return false }
                    var g = d[l]
                    var p = (d[l + 1] - g) / (2 * e[l])
                    var r = hypot(p, 1)
                    if p < 0 { r = -r }
                    d[l] = e[l] / (p + r)
                    d[l + 1] = e[l] * (p + r)
                    let dl1 = d[l + 1]
                    var h = g - d[l]
                    if l + 2 < n { for i in (l + 2)..<n { d[i] -= h } }
                    f += h
                    p = d[m]
                    var c = 1.0, c2 = 1.0, c3 = 1.0
                    let el1 = e[l + 1]
                    var s = 0.0, s2 = 0.0
                    var i = m - 1
                    while i >= l {
                        c3 = c2
                        c2 = c
                        s2 = s
                        g = c * e[i]
                        h = c * p
                        r = hypot(p, e[i])
                        e[i + 1] = s * r
                        s = e[i] / r
                        c = p / r
                        p = c * d[i] - s * g
                        d[i + 1] = h + s * (c * g + s * d[i])
                        let (cc, ss) = (c, s)
                        w.withUnsafeMutableBufferPointer { buf in
                            let lower = buf.baseAddress! + i * n, upper = lower + n
                            for k in 0..<n {
                                let hk = upper[k]
                                upper[k] = ss * lower[k] + cc * hk
                                lower[k] = cc * lower[k] - ss * hk
                            }
                        }
                        i -= 1
                    }
                    p = -s * s2 * c3 * el1 * e[l] / dl1
                    e[l] = s * p
                    d[l] = c * p
                } while abs(e[l]) > eps * tst1
            }
            d[l] += f
            e[l] = 0
        }
        return true
    }
}
