import BirderCore
import Foundation

/// One merge of the Ward hierarchy: clusters holding points `a` < `b` (each cluster is named by
/// one of its points, as SciPy's `linkage` rows are before relabelling) join at `height`, the
/// Ward distance sqrt(2·|A|·|B| / (|A| + |B|)) · ‖centroid(A) − centroid(B)‖.
public struct WardMerge: Sendable, Equatable {
    public var a: Int
    public var b: Int
    public var height: Double
    public var size: Int
}

/// The full Ward hierarchy of n points: n − 1 merges in increasing height (SciPy's order).
public struct WardTree: Sendable {
    public let pointCount: Int
    public let merges: [WardMerge]

    /// Flat labels for `clusters` clusters, as scikit-learn's `_hc_cut` cuts the tree: undo the
    /// last `clusters − 1` merges. Labels are numbered 0..<clusters in order of each cluster's
    /// first point (scikit-learn numbers them differently; the partition is the same).
    public func labels(clusters: Int) throws -> [Int] {
        guard clusters >= 1, clusters <= max(pointCount, 1) else {
            throw EvaluationError.invalidParameter(
                name: "clusters", reason: "\(clusters) clusters for a tree of \(pointCount) points")
        }
        var parent = Array(0..<pointCount)
        func find(_ x: Int) -> Int {
            var root = x
            while parent[root] != root { root = parent[root] }
            var node = x
            while parent[node] != root { (node, parent[node]) = (parent[node], root) }
            return root
        }
        for merge in merges.prefix(pointCount - clusters) {
            let ra = find(merge.a), rb = find(merge.b)
            if ra != rb { parent[max(ra, rb)] = min(ra, rb) }
        }
        var labelOfRoot = [Int](repeating: -1, count: pointCount)
        var labels = [Int](repeating: 0, count: pointCount)
        var next = 0
        for i in 0..<pointCount {
            let root = find(i)
            if labelOfRoot[root] < 0 {
                labelOfRoot[root] = next
                next += 1
            }
            labels[i] = labelOfRoot[root]
        }
        return labels
    }
}

/// Agglomerative clustering with Ward linkage, without an n × n distance matrix.
///
/// scikit-learn's `AgglomerativeClustering(linkage="ward")` hands the points to SciPy, which
/// builds the full tree with the nearest-neighbour-chain algorithm over a condensed distance
/// matrix (8·n²/2 bytes: 6.4 GB at 40 000 points) and cuts it. This runs the same chain — same
/// starting cluster, same preference for the previous chain element on ties, same lowest-index
/// rule, the merged cluster kept in the higher of the two slots — but computes each Ward
/// distance from cluster centroids and sizes (O(n·d) memory). The nearest-neighbour scans are
/// pruned with a lower bound from the top principal directions plus the norm of the remainder,
/// evaluated in double precision, then confirmed exactly; they run over threads for large n.
public enum Ward {
    /// Cluster labels 0..<k for `points` (row-major n × d), equal to scikit-learn's
    /// `AgglomerativeClustering(n_clusters: k, linkage: "ward").fit_predict` up to renaming.
    public static func cluster(points: [Float], n: Int, d: Int, k: Int) throws -> [Int] {
        guard k >= 1, k <= n else {
            throw EvaluationError.invalidParameter(name: "k", reason: "\(k) clusters for \(n) points")
        }
        return try tree(points: points, n: n, d: d).labels(clusters: k)
    }

    /// The full hierarchy (what SciPy's `linkage(points, "ward")` describes).
    public static func tree(points: [Float], n: Int, d: Int) throws -> WardTree {
        try checkMatrix(points, n: n, d: d, name: "points")
        guard n >= 1, d >= 1 else {
            throw EvaluationError.invalidParameter(name: "points", reason: "need at least one point with one dimension")
        }
        var chain = NearestNeighborChain(points: points, n: n, d: d)
        let found = chain.run()
        // SciPy sorts the chain's merges by height with a stable sort.
        let order = found.indices.sorted { (found[$0].height, $0) < (found[$1].height, $1) }
        return WardTree(pointCount: n, merges: order.map { found[$0] })
    }

    /// How many principal directions the pruning bound uses (the rest enter through one norm).
    static let boundDimensions = 8
    /// Below this many live clusters a scan stays on one thread.
    static let parallelScanThreshold = 16_384
}

/// The chain's state. Clusters live at positions 0..<count in increasing slot (= point) order;
/// dead positions are squeezed out now and then, which keeps that order.
struct NearestNeighborChain {
    let n: Int, d: Int
    /// Principal directions used by the bound (p rows of d), and p itself.
    let p: Int
    let basis: [Double]
    let hasRemainder: Bool
    /// Absolute slack on the computed bound (rounding in the projection).
    var slack: Double = 0

    var count: Int
    var slot: [Int]            // position → slot (the cluster's name, one of its points)
    var size: [Double]         // position → cluster size (0 when dead)
    var centroid: [Double]     // position → d coordinates (centred data)
    var projection: [Double]   // p × capacity, coordinate-major: projection[j * stride + position]
    var remainder: [Double]    // position → norm of the centroid outside the principal directions
    var stride: Int
    var alive: Int

    init(points: [Float], n: Int, d: Int) {
        self.n = n
        self.d = d
        count = n
        stride = n
        alive = n
        slot = Array(0..<n)
        size = [Double](repeating: 1, count: n)
        // Centre the data: distances do not change, the bound's rounding shrinks with the norms.
        var mean = [Double](repeating: 0, count: d)
        for i in 0..<n { for j in 0..<d { mean[j] += Double(points[i * d + j]) } }
        for j in 0..<d { mean[j] /= Double(n) }
        var centred = [Double](repeating: 0, count: n * d)
        var maxNormSquared = 0.0
        for i in 0..<n {
            var normSquared = 0.0
            for j in 0..<d {
                let value = Double(points[i * d + j]) - mean[j]
                centred[i * d + j] = value
                normSquared += value * value
            }
            maxNormSquared = max(maxNormSquared, normSquared)
        }
        centroid = centred
        let directions = Self.principalDirections(centred, n: n, d: d, count: Ward.boundDimensions)
        p = directions.count / d
        basis = directions
        hasRemainder = p < d
        projection = [Double](repeating: 0, count: p * n)
        remainder = [Double](repeating: 0, count: n)
        // The bound is Σ_j (Δ projection_j)² + (Δ remainder)² ≤ ‖Δ‖², computed from stored values
        // each within ~d·ε·R of the exact ones (R: largest centred norm); 1e3·ε·R² covers the
        // rounding of differences and sums with a wide margin, and only costs a few extra exact
        // distance evaluations.
        slack = 1e3 * Double.ulpOfOne * Double(d + 1) * maxNormSquared
        for i in 0..<n { setDerived(position: i) }
    }

    /// Top principal directions of the centred data (rows of length d). All d when d is small.
    static func principalDirections(_ x: [Double], n: Int, d: Int, count: Int) -> [Double] {
        let p = min(count, d)
        var covariance = [Double](repeating: 0, count: d * d)
        x.withUnsafeBufferPointer { xs in
            covariance.withUnsafeMutableBufferPointer { cov in
                for i in 0..<n {
                    let row = xs.baseAddress! + i * d
                    for a in 0..<d {
                        let va = row[a]
                        if va == 0 { continue }
                        let out = cov.baseAddress! + a * d
                        for b in a..<d { out[b] += va * row[b] }
                    }
                }
            }
        }
        for a in 0..<d { for b in 0..<a { covariance[a * d + b] = covariance[b * d + a] } }
        if p == d {
            // The bound is then the exact distance; any orthonormal basis will do.
            var identity = [Double](repeating: 0, count: d * d)
            for j in 0..<d { identity[j * d + j] = 1 }
            return identity
        }
        guard let eigen = SymmetricEigen(matrix: covariance, n: d) else {
            return Array(repeating: 0, count: 0)  // no projection: the bound uses the norm alone
        }
        var rows = [Double]()
        for r in 0..<p {
            let source = d - 1 - r  // ascending order: largest variance last
            rows.append(contentsOf: eigen.vectors[(source * d)..<(source * d + d)])
        }
        return rows
    }

    /// Recomputes position `i`'s projection and remainder norm from its centroid. The remainder
    /// vector is formed explicitly: a difference of squared norms would lose it to cancellation.
    mutating func setDerived(position i: Int) {
        var residual = Array(centroid[(i * d)..<(i * d + d)])
        for r in 0..<p {
            var dot = 0.0
            for j in 0..<d { dot += basis[r * d + j] * centroid[i * d + j] }
            projection[r * stride + i] = dot
            for j in 0..<d { residual[j] -= dot * basis[r * d + j] }
        }
        var normSquared = 0.0
        for j in 0..<d { normSquared += residual[j] * residual[j] }
        remainder[i] = hasRemainder ? normSquared.squareRoot() : 0
    }

    /// Squared Ward distance between positions x and y (exact, from centroids).
    func wardSquared(_ x: Int, _ y: Int) -> Double {
        centroid.withUnsafeBufferPointer { c in
            Self.wardSquared(c.baseAddress!, x, y, d: d, sizeX: size[x], sizeY: size[y])
        }
    }

    @inline(__always)
    static func wardSquared(_ c: UnsafePointer<Double>, _ x: Int, _ y: Int, d: Int, sizeX: Double, sizeY: Double) -> Double {
        let cx = c + x * d, cy = c + y * d
        var s0 = 0.0, s1 = 0.0
        var j = 0
        while j + 1 < d {
            let a = cx[j] - cy[j], b = cx[j + 1] - cy[j + 1]
            s0 += a * a
            s1 += b * b
            j += 2
        }
        if j < d { let a = cx[j] - cy[j]; s0 += a * a }
        return 2 * sizeX * sizeY / (sizeX + sizeY) * (s0 + s1)
    }

    /// Runs the chain to the end; merges in the order found.
    mutating func run() -> [WardMerge] {
        var merges = [WardMerge]()
        merges.reserveCapacity(max(n - 1, 0))
        var chain = [Int]()  // positions
        var scratch = ScanScratch(capacity: 512)
        for _ in 0..<max(n - 1, 0) {
            if chain.isEmpty {
                var first = 0
                while size[first] == 0 { first += 1 }
                chain.append(first)
            }
            var x = 0, y = 0, best = 0.0
            while true {
                x = chain[chain.count - 1]
                var candidate = Candidate(distance: .infinity, position: -1, preferred: false)
                if chain.count > 1 {
                    let previous = chain[chain.count - 2]
                    candidate = Candidate(distance: wardSquared(x, previous), position: previous, preferred: true)
                }
                candidate = nearest(to: x, start: candidate, scratch: &scratch)
                y = candidate.position
                best = candidate.distance
                if chain.count > 1 && y == chain[chain.count - 2] { break }
                chain.append(y)
            }
            chain.removeLast(2)
            // The merged cluster keeps the higher slot, as in SciPy; positions follow slots.
            let low = min(x, y), high = max(x, y)
            let sizeLow = size[low], sizeHigh = size[high]
            merges.append(WardMerge(a: slot[low], b: slot[high], height: best.squareRoot(), size: Int(sizeLow + sizeHigh)))
            let total = sizeLow + sizeHigh
            for j in 0..<d {
                centroid[high * d + j] = (sizeLow * centroid[low * d + j] + sizeHigh * centroid[high * d + j]) / total
            }
            size[high] = total
            size[low] = 0
            setDerived(position: high)
            for r in 0..<p { projection[r * stride + low] = .infinity }
            remainder[low] = .infinity
            alive -= 1
            if alive >= 1024 && alive * 2 < count {
                compact(chain: &chain)
            }
        }
        return merges
    }

    /// Squeezes dead positions out, keeping slot order (and so the lowest-index tie rule).
    mutating func compact(chain: inout [Int]) {
        var newPosition = [Int](repeating: -1, count: count)
        var next = 0
        for i in 0..<count where size[i] > 0 {
            newPosition[i] = next
            if next != i {
                slot[next] = slot[i]
                size[next] = size[i]
                remainder[next] = remainder[i]
                for j in 0..<d { centroid[next * d + j] = centroid[i * d + j] }
            }
            next += 1
        }
        // Re-lay the coordinate-major projection with the new, smaller stride.
        var packed = [Double](repeating: 0, count: p * next)
        for r in 0..<p {
            for i in 0..<count where newPosition[i] >= 0 {
                packed[r * next + newPosition[i]] = projection[r * stride + i]
            }
        }
        projection = packed
        stride = next
        count = next
        slot.removeSubrange(next...)
        size.removeSubrange(next...)
        remainder.removeSubrange(next...)
        centroid.removeSubrange((next * d)...)
        chain = chain.map { newPosition[$0] }
    }

    struct Candidate {
        var distance: Double
        var position: Int
        /// The previous chain element: it wins ties (SciPy starts its scan from it).
        var preferred: Bool

        /// SciPy's order: smaller distance; on a tie the previous chain element, then the lower index.
        func isBetter(than other: Candidate) -> Bool {
            if distance != other.distance { return distance < other.distance }
            if preferred != other.preferred { return preferred }
            return position < other.position
        }
    }

    struct ScanScratch {
        var bound: [Double]
        init(capacity: Int) { bound = [Double](repeating: 0, count: capacity) }
    }

    /// The nearest live cluster to position x under SciPy's tie rules, starting from `start`.
    func nearest(to x: Int, start: Candidate, scratch: inout ScanScratch) -> Candidate {
        let workers = alive >= Ward.parallelScanThreshold ? ComputeThreads.count : 1
        if workers <= 1 {
            return scratch.bound.withUnsafeMutableBufferPointer { buffer in
                scan(x: x, range: 0..<count, start: start, bound: buffer.baseAddress!, boundCapacity: buffer.count)
            }
        }
        var results = [Candidate](repeating: start, count: workers)
        let total = count
        results.withUnsafeMutableBufferPointer { out in
            let shared = UncheckedSendable(out)
            parallelFor(workers, grain: 1, threads: workers) { chunks in
                let local = UnsafeMutablePointer<Double>.allocate(capacity: 512)
                defer { local.deallocate() }
                for w in chunks {
                    let range = (total * w / workers)..<(total * (w + 1) / workers)
                    shared.value[w] = scan(x: x, range: range, start: start, bound: local, boundCapacity: 512)
                }
            }
        }
        var best = start
        for candidate in results where candidate.isBetter(than: best) { best = candidate }
        return best
    }

    /// Scans positions in `range` in blocks: the bound for a whole block first (vectorisable,
    /// coordinate-major), then exact distances only where the bound does not rule a cluster out.
    func scan(x: Int, range: Range<Int>, start: Candidate, bound: UnsafeMutablePointer<Double>,
              boundCapacity: Int) -> Candidate {
        var best = start
        let sizeX = size[x]
        let slack = self.slack
        let p = self.p, stride = self.stride, d = self.d
        return projection.withUnsafeBufferPointer { proj in
            remainder.withUnsafeBufferPointer { rem in
                size.withUnsafeBufferPointer { sizes in
                    centroid.withUnsafeBufferPointer { cent in
                        let projBase = proj.baseAddress!, remBase = rem.baseAddress!
                        var projX = [Double](repeating: 0, count: p)
                        for r in 0..<p { projX[r] = projBase[r * stride + x] }
                        let remX = remBase[x]
                        var blockStart = range.lowerBound
                        while blockStart < range.upperBound {
                            let blockEnd = min(blockStart + boundCapacity, range.upperBound)
                            let length = blockEnd - blockStart
                            let remBlock = remBase + blockStart
                            for b in 0..<length {
                                let t = remX - remBlock[b]
                                bound[b] = t * t
                            }
                            for r in 0..<p {
                                let column = projBase + r * stride + blockStart
                                let value = projX[r]
                                for b in 0..<length {
                                    let t = value - column[b]
                                    bound[b] += t * t
                                }
                            }
                            for b in 0..<length {
                                let lower = bound[b] - slack
                                // Ward's size factor is at least 1, so this test needs no division.
                                if lower > best.distance { continue }
                                let position = blockStart + b
                                if position == x { continue }
                                let sizeY = sizes[position]
                                if sizeY == 0 { continue }
                                let factor = 2 * sizeX * sizeY / (sizeX + sizeY)
                                if factor * lower > best.distance { continue }
                                let exact = Self.wardSquared(cent.baseAddress!, x, position, d: d, sizeX: sizeX, sizeY: sizeY)
                                let candidate = Candidate(distance: exact, position: position, preferred: false)
                                if candidate.isBetter(than: best) { best = candidate }
                            }
                            blockStart = blockEnd
                        }
                        return best
                    }
                }
            }
        }
    }
}
