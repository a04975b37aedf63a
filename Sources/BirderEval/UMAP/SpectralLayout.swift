import BirderCore
import Foundation

/// UMAP's spectral initialisation: eigenvectors 2…dim+1 of the symmetric normalised Laplacian
/// L = I − D^{-1/2} W D^{-1/2} of the fuzzy graph (umap-learn's `spectral_layout`), with its
/// treatment of graphs in several connected components (`multi_component_layout`).
///
/// umap-learn asks ARPACK (`eigsh`, which="SM") for them; here a Chebyshev-filtered subspace
/// iteration does it (Zhou & Saad 2007): a polynomial in L that damps the unwanted upper part
/// of the spectrum, [largest Ritz value, 2], is applied to a block of dim + 1 + guard vectors,
/// followed by Rayleigh–Ritz, until every wanted residual ‖Lv − θv‖ is below 1e-4 or 30 passes
/// are spent (then the approximate vectors are used: they are an initialisation, and
/// umap-learn's ARPACK run, which measures its tolerance relative to each tiny eigenvalue, can
/// take minutes on graphs of loosely joined clusters). Small graphs use a dense decomposition.
enum SpectralLayout {
    struct Result {
        var coordinates: [Double]   // n × dim, row-major
        /// The dim + 1 smallest eigenvalues (Ritz values), the first ≈ 0.
        var values: [Double]
        var converged: Bool
        var iterations: Int
    }

    static let denseLimit = 150
    static let tolerance = 1e-4
    static let maxIterations = 30
    static let degreeRange = 8...60

    /// The layout for the whole graph (any number of components), as spectral_layout returns it,
    /// before umap-learn's rescaling and noise.
    static func layout(graph: SparseMatrix, data: [Float]?, d: Int, dim: Int, random: inout SeededGenerator, context: ComputeContext) -> [Double] {
        let (count, labels) = graph.connectedComponents()
        if count == 1 {
            if let result = eigenvectors(graph: graph, dim: dim, random: &random, context: context) { return result.coordinates }
            // umap-learn falls back to a uniform random layout when its eigensolver fails.
            return (0..<(graph.n * dim)).map { _ in random.uniform(-10, 10) }
        }
        return multiComponent(graph: graph, data: data, d: d, dim: dim, components: count, labels: labels, random: &random, context: context)
    }

    /// Eigenvectors 2…dim+1 of the normalised Laplacian of a connected graph (n × dim).
    static func eigenvectors(graph: SparseMatrix, dim: Int, random: inout SeededGenerator, context: ComputeContext) -> Result? {
        let n = graph.n
        let k = dim + 1
        guard n > k else { return nil }
        let degree = graph.rowSums
        guard degree.allSatisfy({ $0 > 0 }) else { return nil }
        let inverseSqrt = degree.map { 1 / $0.squareRoot() }
        var normalized = [Double](repeating: 0, count: graph.nonZeroCount)
        for i in 0..<n {
            for e in graph.rowStart[i]..<graph.rowStart[i + 1] {
                normalized[e] = Double(graph.values[e]) * inverseSqrt[i] * inverseSqrt[Int(graph.columns[e])]
            }
        }
        let laplacian = Laplacian(rowStart: graph.rowStart, columns: graph.columns, weights: normalized, n: n, context: context)
        if n <= denseLimit { return dense(laplacian, dim: dim) }

        // Guard vectors beyond the k wanted: the filter's damped interval starts at the block's
        // largest Ritz value, so a wider block separates the wanted ones better.
        let m = min(n, k + max(8, k / 3))
        // Start: random normal block with the known null vector (√degree) in front.
        var block = (0..<(n * m)).map { _ in random.normal() }
        let sqrtDegree = degree.map { $0.squareRoot() }
        let norm = sqrtDegree.reduce(0) { $0 + $1 * $1 }.squareRoot()
        for i in 0..<n { block[i * m] = sqrtDegree[i] / norm }
        guard var ritz = rayleighRitz(block, laplacian, m: m, context: context) else { return nil }
        var iterations = 0
        var converged = false
        while true {
            converged = residualsConverged(ritz, laplacian, wanted: k)
            if converged || iterations >= maxIterations { break }
            let lower = ritz.values[ritz.columns - 1], upper = 2.0
            guard upper - lower > 1e-9 else { break }
            // T_d grows like cosh(d·√(2·(lower − λ) / (upper − lower))) below `lower`: when the wanted
            // eigenvalues crowd near 0 (many loosely joined clusters) the degree must rise for
            // each pass to gain a constant factor.
            let scale = (2 * lower / (upper - lower)).squareRoot()
            let degree = min(max(Int((1.2 / scale).rounded(.up)), degreeRange.lowerBound), degreeRange.upperBound)
            let filtered = chebyshevFilter(ritz.vectors, laplacian, m: ritz.columns, degree: degree, lower: lower, upper: upper)
            guard let next = rayleighRitz(filtered, laplacian, m: ritz.columns, context: context) else { break }
            ritz = next
            iterations += 1
        }
        guard ritz.columns >= k else { return nil }
        var coordinates = [Double](repeating: 0, count: n * dim)
        for i in 0..<n { for c in 0..<dim { coordinates[i * dim + c] = ritz.vectors[i * ritz.columns + c + 1] } }
        return Result(coordinates: coordinates, values: Array(ritz.values.prefix(k)), converged: converged, iterations: iterations)
    }

    struct Laplacian {
        var rowStart: [Int]
        var columns: [Int32]
        var weights: [Double]   // normalised adjacency D^{-1/2} W D^{-1/2}
        var n: Int
        var context: ComputeContext

        /// L·X for a row-major n × m block.
        func apply(_ x: [Double], m: Int) -> [Double] {
            var out = [Double](repeating: 0, count: n * m)
            x.withUnsafeBufferPointer { xBuffer in
                out.withUnsafeMutableBufferPointer { outBuffer in
                    rowStart.withUnsafeBufferPointer { starts in
                        columns.withUnsafeBufferPointer { cols in
                            weights.withUnsafeBufferPointer { w in
                                let shared = UncheckedSendable((xBuffer.baseAddress!, outBuffer.baseAddress!, starts.baseAddress!,
                                                                cols.baseAddress!, w.baseAddress!))
                                context.parallelFor(n, grain: 128) { range in
                                    let (x, out, starts, cols, w) = shared.value
                                    for i in range {
                                        let target = out + i * m
                                        let own = x + i * m
                                        for t in 0..<m { target[t] = own[t] }
                                        for e in starts[i]..<starts[i + 1] {
                                            let weight = w[e]
                                            let source = x + Int(cols[e]) * m
                                            for t in 0..<m { target[t] -= weight * source[t] }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            return out
        }

        func dense() -> [Double] {
            var matrix = [Double](repeating: 0, count: n * n)
            for i in 0..<n {
                matrix[i * n + i] = 1
                for e in rowStart[i]..<rowStart[i + 1] { matrix[i * n + Int(columns[e])] -= weights[e] }
            }
            return matrix
        }
    }

    struct Ritz {
        var values: [Double]     // ascending
        var vectors: [Double]    // n × columns, orthonormal
        var applied: [Double]    // L · vectors
        var columns: Int
    }

    static func dense(_ laplacian: Laplacian, dim: Int) -> Result? {
        let n = laplacian.n
        guard let eigen = SymmetricEigen(matrix: laplacian.dense(), n: n) else { return nil }
        var coordinates = [Double](repeating: 0, count: n * dim)
        for i in 0..<n { for c in 0..<dim { coordinates[i * dim + c] = eigen.vectors[(c + 1) * n + i] } }
        return Result(coordinates: coordinates, values: Array(eigen.values.prefix(dim + 1)), converged: true, iterations: 0)
    }

    /// Orthonormalises the block (twice, for accuracy) and diagonalises L on its span.
    static func rayleighRitz(_ block: [Double], _ laplacian: Laplacian, m: Int, context: ComputeContext) -> Ritz? {
        let n = laplacian.n
        guard let first = DenseBlock.orthonormalize(block, n: n, m: m, context: context) else { return nil }
        var basis = first
        if first.conditionRatio < 1e-8 {
            // Ill-conditioned block: one more pass restores orthonormality.
            guard let second = DenseBlock.orthonormalize(first.basis, n: n, m: first.columns, context: context) else { return nil }
            basis = second
        }
        let r = basis.columns
        let applied = laplacian.apply(basis.basis, m: r)
        var projected = DenseBlock.transposeTimes(basis.basis, applied, n: n, p: r, q: r, context: context)
        for i in 0..<r { for j in 0..<i { let v = (projected[i * r + j] + projected[j * r + i]) / 2; projected[i * r + j] = v; projected[j * r + i] = v } }
        guard let eigen = SymmetricEigen(matrix: projected, n: r) else { return nil }
        var rotation = [Double](repeating: 0, count: r * r)  // column c = eigenvector c
        for c in 0..<r { for i in 0..<r { rotation[i * r + c] = eigen.vectors[c * r + i] } }
        return Ritz(values: eigen.values,
                    vectors: DenseBlock.times(basis.basis, rotation, n: n, p: r, q: r, context: context),
                    applied: DenseBlock.times(applied, rotation, n: n, p: r, q: r, context: context),
                    columns: r)
    }

    static func residualsConverged(_ ritz: Ritz, _ laplacian: Laplacian, wanted: Int) -> Bool {
        guard ritz.columns >= wanted else { return false }
        let n = laplacian.n, m = ritz.columns
        var squared = [Double](repeating: 0, count: wanted)
        for i in 0..<n {
            for c in 0..<wanted {
                let r = ritz.applied[i * m + c] - ritz.values[c] * ritz.vectors[i * m + c]
                squared[c] += r * r
            }
        }
        return squared.allSatisfy { $0.squareRoot() <= tolerance }
    }

    /// T_degree of L mapped so that [lower, upper] → [−1, 1], applied to the block.
    static func chebyshevFilter(_ x: [Double], _ laplacian: Laplacian, m: Int, degree: Int, lower: Double, upper: Double) -> [Double] {
        let half = (upper - lower) / 2, centre = (upper + lower) / 2
        var previous = x
        var current = laplacian.apply(x, m: m)
        for e in 0..<current.count { current[e] = (current[e] - centre * x[e]) / half }
        if degree < 2 { return current }
        for _ in 2...degree {
            var next = laplacian.apply(current, m: m)
            for e in 0..<next.count { next[e] = 2 * (next[e] - centre * current[e]) / half - previous[e] }
            previous = current
            current = next
        }
        return current
    }

    /// `multi_component_layout`: components placed by a meta-embedding, each laid out on its own.
    static func multiComponent(graph: SparseMatrix, data: [Float]?, d: Int, dim: Int, components: Int, labels: [Int],
                               random: inout SeededGenerator, context: ComputeContext) -> [Double] {
        let n = graph.n
        var members = [[Int]](repeating: [], count: components)
        for i in 0..<n { members[labels[i]].append(i) }
        var meta = [Double](repeating: 0, count: components * dim)
        if components > 2 * dim, let data {
            meta = componentLayout(data: data, d: d, members: members, dim: dim, random: &random, context: context)
        } else {
            // ±unit vectors: component c → e_c, then −e_c for the second half.
            let half = Int((Double(components) / 2).rounded(.up))
            for c in 0..<components {
                let axis = c % half
                if axis < dim { meta[c * dim + axis] = c < half ? 1 : -1 }
            }
        }
        var result = [Double](repeating: 0, count: n * dim)
        for c in 0..<components {
            // Half the distance to the nearest other component centre.
            var nearest = Double.infinity
            for other in 0..<components where other != c {
                var s = 0.0
                for t in 0..<dim { let diff = meta[c * dim + t] - meta[other * dim + t]; s += diff * diff }
                let distance = s.squareRoot()
                if distance > 0 { nearest = min(nearest, distance) }
            }
            let range = nearest.isFinite ? nearest / 2 : 1
            let vertices = members[c]
            var placed = false
            if vertices.count >= 2 * dim && vertices.count > dim + 1 {
                let sub = graph.submatrix(vertices)
                if let layout = eigenvectors(graph: sub, dim: dim, random: &random, context: context) {
                    let largest = layout.coordinates.reduce(0) { max($0, abs($1)) }
                    let expansion = largest > 0 ? range / largest : 0
                    for (row, v) in vertices.enumerated() {
                        for t in 0..<dim { result[v * dim + t] = layout.coordinates[row * dim + t] * expansion + meta[c * dim + t] }
                    }
                    placed = true
                }
            }
            if !placed {
                for v in vertices {
                    for t in 0..<dim { result[v * dim + t] = random.uniform(-range, range) + meta[c * dim + t] }
                }
            }
        }
        return result
    }

    /// `component_layout`: spectral embedding (scikit-learn's SpectralEmbedding on the affinity
    /// exp(−‖centroid_a − centroid_b‖²)) of the component centroids, scaled to a maximum of 1.
    static func componentLayout(data: [Float], d: Int, members: [[Int]], dim: Int, random: inout SeededGenerator, context: ComputeContext) -> [Double] {
        let count = members.count
        var centroids = [Double](repeating: 0, count: count * d)
        for (c, vertices) in members.enumerated() {
            for v in vertices { for t in 0..<d { centroids[c * d + t] += Double(data[v * d + t]) } }
            for t in 0..<d { centroids[c * d + t] /= Double(vertices.count) }
        }
        var affinity = [Double](repeating: 0, count: count * count)
        for a in 0..<count {
            for b in 0..<count {
                var s = 0.0
                for t in 0..<d { let diff = centroids[a * d + t] - centroids[b * d + t]; s += diff * diff }
                affinity[a * count + b] = exp(-s)
            }
        }
        // Normalised Laplacian with unit diagonal removed as scikit-learn's `laplacian(normed=True)`
        // does (self-affinity ignored), eigenvectors 2…dim+1 rescaled by D^{-1/2} (diffusion map).
        var degree = [Double](repeating: 0, count: count)
        for a in 0..<count { for b in 0..<count where b != a { degree[a] += affinity[a * count + b] } }
        let scale = degree.map { $0 > 0 ? 1 / $0.squareRoot() : 0 }
        var laplacian = [Double](repeating: 0, count: count * count)
        for a in 0..<count {
            for b in 0..<count {
                laplacian[a * count + b] = a == b ? (degree[a] > 0 ? 1 : 0) : -affinity[a * count + b] * scale[a] * scale[b]
            }
        }
        var meta = [Double](repeating: 0, count: count * dim)
        guard count <= 3000, let eigen = SymmetricEigen(matrix: laplacian, n: count) else {
            for e in 0..<meta.count { meta[e] = random.unit() * 10 }
            return meta
        }
        for t in 0..<min(dim, count - 1) {
            // Deterministic sign: the largest-magnitude entry positive (scikit-learn's sign flip).
            var largest = 0.0
            for c in 0..<count {
                let v = eigen.vectors[(t + 1) * count + c] * scale[c]
                if abs(v) > abs(largest) { largest = v }
            }
            let sign: Double = largest < 0 ? -1 : 1
            for c in 0..<count { meta[c * dim + t] = sign * eigen.vectors[(t + 1) * count + c] * scale[c] }
        }
        let largest = meta.max() ?? 1
        if largest > 0 { for e in 0..<meta.count { meta[e] /= largest } }
        return meta
    }
}
