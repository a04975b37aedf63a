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
/// distance from cluster centroids and sizes (O(n·d) memory). Each nearest-neighbour scan skips
/// whole buckets of clusters — leaves of a kd-tree over the top principal coordinates, whose
/// bounding boxes (plus the range of the norm outside those directions) only ever grow — by a
/// lower bound on the Ward distance, visits the rest nearest-box-first, and measures their
/// members exactly in double precision. The bound carries a slack for rounding, so pruning never
/// changes which cluster is nearest: the chain makes SciPy's choices.
public enum Ward {
    /// Cluster labels 0..<k for `points` (row-major n × d), equal to scikit-learn's
    /// `AgglomerativeClustering(n_clusters: k, linkage: "ward").fit_predict` up to renaming.
    public static func cluster(points: [Float], n: Int, d: Int, k: Int, context: ComputeContext = .automatic) throws -> [Int] {
        guard k >= 1, k <= n else {
            throw EvaluationError.invalidParameter(name: "k", reason: "\(k) clusters for \(n) points")
        }
        return try tree(points: points, n: n, d: d, context: context).labels(clusters: k)
    }

    /// The full hierarchy (what SciPy's `linkage(points, "ward")` describes).
    public static func tree(points: [Float], n: Int, d: Int, context: ComputeContext = .automatic) throws -> WardTree {
        try checkMatrix(points, n: n, d: d, name: "points")
        guard n >= 1, d >= 1 else {
            throw EvaluationError.invalidParameter(name: "points", reason: "need at least one point with one dimension")
        }
        var chain = NearestNeighborChain(points: points, n: n, d: d, context: context)
        let found = chain.run()
        // SciPy sorts the chain's merges by height with a stable sort.
        let order = found.indices.sorted { (found[$0].height, $0) < (found[$1].height, $1) }
        return WardTree(pointCount: n, merges: order.map { found[$0] })
    }

    /// How many principal directions the pruning bound uses (the rest enter through one norm).
    static let boundDimensions = 8
}

/// The chain's state. Clusters are named by slots (one of their points; the merged cluster takes
/// the higher slot). For the scans each live cluster also sits in a bucket — a leaf of a kd-tree
/// built over the points' principal coordinates — whose members are stored contiguously.
struct NearestNeighborChain {
    let n: Int, d: Int
    /// Principal directions used by the bound (p rows of d), and p itself.
    let p: Int
    let basis: [Double]
    let hasRemainder: Bool
    /// Absolute slack on the computed bound (rounding in the projection).
    let slack: Double

    var size: [Double]         // slot → cluster size (0 when dead)
    var firstAlive = 0

    // Bucket storage, indexed by storage position s (buckets contiguous).
    var projection: [Double]   // p × n, coordinate-major: projection[j * n + s]
    var remainder: [Double]    // s → norm of the centroid outside the principal directions
    var centroid: [Double]     // s → d coordinates (centred data), so a bucket's scan reads
                               // consecutive memory
    var storedSize: [Double]   // s → cluster size
    var slotAt: [Int]          // s → slot
    var storeOf: [Int]         // slot → s
    var bucketOf: [Int]        // slot → bucket

    var bucketStart: [Int]
    var bucketCount: [Int]
    var refreshedCount: [Int]  // member count when the box was last recomputed
    var boxLow: [Double]       // (p + 1) × buckets, coordinate-major: principal coordinates,
    var boxHigh: [Double]      // then the remainder
    var minSize: [Double]      // a lower bound on the sizes of the bucket's members

    init(points: [Float], n: Int, d: Int, context: ComputeContext) {
        self.n = n
        self.d = d
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
        let directions = Self.principalDirections(centred, n: n, d: d, count: Ward.boundDimensions, context: context)
        p = directions.count / d
        basis = directions
        hasRemainder = p < d
        // The bound is Σ_j (Δ projection_j)² + (Δ remainder)² ≤ ‖Δ‖², computed from stored values
        // each within ~d·ε·R of the exact ones (R: largest centred norm); 1e3·(d+1)·ε·R² covers
        // the rounding of differences and sums with a wide margin and costs only a few extra
        // exact distance evaluations.
        slack = 1e3 * Double.ulpOfOne * Double(d + 1) * maxNormSquared

        // Principal coordinates of every point, then kd-tree leaves over them as buckets.
        var coordinates = [Double](repeating: 0, count: n * p)
        var remainders = [Double](repeating: 0, count: n)
        for i in 0..<n {
            let derived = Self.derived(centroid: centred, slot: i, d: d, p: p, basis: directions, hasRemainder: p < d)
            for j in 0..<p { coordinates[i * p + j] = derived.projection[j] }
            remainders[i] = derived.remainder
        }
        let leafSize = max(32, Int(Double(n).squareRoot()))
        var order = Array(0..<n)
        var leaves = [Range<Int>]()
        var pending = [0..<n]
        while let range = pending.popLast() {
            if range.count <= leafSize || p == 0 {
                leaves.append(range)
                continue
            }
            var widest = 0, widestSpread = -1.0
            for j in 0..<p {
                var low = Double.infinity, high = -Double.infinity
                for i in range { let v = coordinates[order[i] * p + j]; low = min(low, v); high = max(high, v) }
                if high - low > widestSpread { widestSpread = high - low; widest = j }
            }
            let axis = widest, pp = p
            order[range].sort { coordinates[$0 * pp + axis] != coordinates[$1 * pp + axis] ? coordinates[$0 * pp + axis] < coordinates[$1 * pp + axis] : $0 < $1 }
            let middle = range.lowerBound + range.count / 2
            pending.append(middle..<range.upperBound)
            pending.append(range.lowerBound..<middle)
        }
        leaves.sort { $0.lowerBound < $1.lowerBound }
        let buckets = leaves.count
        projection = [Double](repeating: 0, count: p * n)
        remainder = [Double](repeating: 0, count: n)
        centroid = [Double](repeating: 0, count: n * d)
        storedSize = [Double](repeating: 1, count: n)
        slotAt = order
        storeOf = [Int](repeating: 0, count: n)
        bucketOf = [Int](repeating: 0, count: n)
        bucketStart = leaves.map(\.lowerBound)
        bucketCount = leaves.map(\.count)
        refreshedCount = bucketCount
        boxLow = [Double](repeating: .infinity, count: buckets * (p + 1))
        boxHigh = [Double](repeating: -.infinity, count: buckets * (p + 1))
        minSize = [Double](repeating: 1, count: buckets)
        for (b, leaf) in leaves.enumerated() {
            for s in leaf {
                let slot = order[s]
                storeOf[slot] = s
                bucketOf[slot] = b
                for j in 0..<p { projection[j * n + s] = coordinates[slot * p + j] }
                remainder[s] = remainders[slot]
                for j in 0..<d { centroid[s * d + j] = centred[slot * d + j] }
            }
            refreshBox(b)
        }
    }

    /// Top principal directions of the centred data (rows of length d). All d when d is small.
    static func principalDirections(_ x: [Double], n: Int, d: Int, count: Int, context: ComputeContext) -> [Double] {
        let p = min(count, d)
        if p == d {
            // The bound is then the exact distance; any orthonormal basis will do.
            var identity = [Double](repeating: 0, count: d * d)
            for j in 0..<d { identity[j * d + j] = 1 }
            return identity
        }
        // XᵀX by one float GEMM: the directions only need to be good, not exact, and any
        // orthonormal basis keeps the bound valid.
        let single = x.map { Float($0) }
        var product = [Float](repeating: 0, count: d * d)
        single.withUnsafeBufferPointer { xs in
            product.withUnsafeMutableBufferPointer { out in
                context.gemm(.transposed, .none, m: d, n: d, k: n, a: xs.baseAddress!, lda: d, b: xs.baseAddress!, ldb: d,
                     c: out.baseAddress!, ldc: d)
            }
        }
        var covariance = product.map { Double($0) }
        for a in 0..<d { for b in 0..<a { let v = (covariance[a * d + b] + covariance[b * d + a]) / 2; covariance[a * d + b] = v; covariance[b * d + a] = v } }
        if d <= 96 {
            guard let eigen = SymmetricEigen(matrix: covariance, n: d) else {
                return []  // no projection: the bound uses the norm alone
            }
            var rows = [Double]()
            for r in 0..<p {
                let source = d - 1 - r  // ascending order: largest variance last
                rows.append(contentsOf: eigen.vectors[(source * d)..<(source * d + d)])
            }
            return rows
        }
        // Wide data: block power iteration for the top p directions (a full d × d
        // decomposition would cost O(d³)).
        let width = min(d, p + 8)
        var random = SeededGenerator(seed: 0x5741_5244)
        var block = (0..<(d * width)).map { _ in random.normal() }
        for _ in 0..<12 {
            guard let basis = DenseBlock.orthonormalize(block, n: d, m: width, context: context), basis.columns == width,
                  let again = DenseBlock.orthonormalize(basis.basis, n: d, m: width, context: context) else { return [] }
            block = DenseBlock.times(covariance, again.basis, n: d, p: d, q: width, context: context)
        }
        guard let first = DenseBlock.orthonormalize(block, n: d, m: width, context: context), first.columns == width,
              let basis = DenseBlock.orthonormalize(first.basis, n: d, m: width, context: context) else { return [] }
        let applied = DenseBlock.times(covariance, basis.basis, n: d, p: d, q: width, context: context)
        var projected = DenseBlock.transposeTimes(basis.basis, applied, n: d, p: width, q: width, context: context)
        for a in 0..<width { for b in 0..<a { let v = (projected[a * width + b] + projected[b * width + a]) / 2; projected[a * width + b] = v; projected[b * width + a] = v } }
        guard let small = SymmetricEigen(matrix: projected, n: width) else { return [] }
        var rows = [Double](repeating: 0, count: p * d)
        for r in 0..<p {
            let source = width - 1 - r
            for i in 0..<d {
                var value = 0.0
                for c in 0..<width { value += basis.basis[i * width + c] * small.vectors[source * width + c] }
                rows[r * d + i] = value
            }
        }
        return rows
    }

    /// A centroid's principal coordinates and remainder norm (row `slot` of `centroid`). The
    /// remainder vector is formed explicitly: a difference of squared norms would lose it to
    /// cancellation.
    static func derived(centroid: [Double], slot: Int, d: Int, p: Int, basis: [Double], hasRemainder: Bool)
        -> (projection: [Double], remainder: Double) {
        var residual = Array(centroid[(slot * d)..<(slot * d + d)])
        var coordinates = [Double](repeating: 0, count: p)
        for r in 0..<p {
            var dot = 0.0
            for j in 0..<d { dot += basis[r * d + j] * residual[j] }
            coordinates[r] = dot
            for j in 0..<d { residual[j] -= dot * basis[r * d + j] }
        }
        var normSquared = 0.0
        for j in 0..<d { normSquared += residual[j] * residual[j] }
        return (coordinates, hasRemainder ? normSquared.squareRoot() : 0)
    }

    /// Recomputes bucket b's bounding box from its members (empty: +∞…−∞, ruling it out).
    mutating func refreshBox(_ b: Int) {
        let buckets = bucketCount.count
        for j in 0...p {
            boxLow[j * buckets + b] = .infinity
            boxHigh[j * buckets + b] = -.infinity
        }
        for s in bucketStart[b]..<(bucketStart[b] + bucketCount[b]) {
            for j in 0..<p { include(bucket: b, coordinate: j, value: projection[j * n + s]) }
            include(bucket: b, coordinate: p, value: remainder[s])
        }
        refreshedCount[b] = bucketCount[b]
    }

    mutating func include(bucket b: Int, coordinate j: Int, value: Double) {
        let index = j * bucketCount.count + b
        boxLow[index] = min(boxLow[index], value)
        boxHigh[index] = max(boxHigh[index], value)
    }

    /// Squared Ward distance between slots x and y (exact, from centroids).
    func wardSquared(_ x: Int, _ y: Int) -> Double {
        centroid.withUnsafeBufferPointer { c in
            Self.wardSquared(c.baseAddress! + storeOf[x] * d, c.baseAddress! + storeOf[y] * d, d: d,
                             sizeX: size[x], sizeY: size[y])
        }
    }

    @inline(__always)
    static func wardSquared(_ cx: UnsafePointer<Double>, _ cy: UnsafePointer<Double>, d: Int, sizeX: Double, sizeY: Double) -> Double {
        var s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0
        var j = 0
        while j + 3 < d {
            let a = cx[j] - cy[j], b = cx[j + 1] - cy[j + 1], c = cx[j + 2] - cy[j + 2], e = cx[j + 3] - cy[j + 3]
            s0 += a * a
            s1 += b * b
            s2 += c * c
            s3 += e * e
            j += 4
        }
        while j < d { let a = cx[j] - cy[j]; s0 += a * a; j += 1 }
        return 2 * sizeX * sizeY / (sizeX + sizeY) * ((s0 + s1) + (s2 + s3))
    }

    /// Runs the chain to the end; merges in the order found.
    mutating func run() -> [WardMerge] {
        var merges = [WardMerge]()
        merges.reserveCapacity(max(n - 1, 0))
        var chain = [Int]()  // slots
        var order = [(Double, Int)]()
        var bounds = [Double](repeating: 0, count: bucketCount.count)
        for _ in 0..<max(n - 1, 0) {
            if chain.isEmpty {
                while size[firstAlive] == 0 { firstAlive += 1 }
                chain.append(firstAlive)
            }
            var x = 0, y = 0, best = 0.0
            while true {
                x = chain[chain.count - 1]
                var candidate = Candidate(distance: .infinity, position: -1, preferred: false)
                if chain.count > 1 {
                    let previous = chain[chain.count - 2]
                    candidate = Candidate(distance: wardSquared(x, previous), position: previous, preferred: true)
                }
                candidate = nearest(to: x, start: candidate, bounds: &bounds, order: &order)
                y = candidate.position
                best = candidate.distance
                if chain.count > 1 && y == chain[chain.count - 2] { break }
                chain.append(y)
            }
            chain.removeLast(2)
            let low = min(x, y), high = max(x, y)
            merges.append(WardMerge(a: low, b: high, height: best.squareRoot(), size: Int(size[low] + size[high])))
            merge(low: low, high: high)
        }
        return merges
    }

    /// Cluster `low` joins `high` (SciPy keeps the merged cluster in the higher slot).
    mutating func merge(low: Int, high: Int) {
        let sizeLow = size[low], sizeHigh = size[high]
        let total = sizeLow + sizeHigh
        let lowStore = storeOf[low], highStore = storeOf[high]
        for j in 0..<d {
            centroid[highStore * d + j] = (sizeLow * centroid[lowStore * d + j] + sizeHigh * centroid[highStore * d + j]) / total
        }
        size[high] = total
        size[low] = 0
        storedSize[highStore] = total
        // Out of its bucket: the bucket's last member fills the hole.
        let lowBucket = bucketOf[low]
        let last = bucketStart[lowBucket] + bucketCount[lowBucket] - 1
        if lowStore != last {
            for j in 0..<p { projection[j * n + lowStore] = projection[j * n + last] }
            for j in 0..<d { centroid[lowStore * d + j] = centroid[last * d + j] }
            remainder[lowStore] = remainder[last]
            storedSize[lowStore] = storedSize[last]
            let moved = slotAt[last]
            slotAt[lowStore] = moved
            storeOf[moved] = lowStore
        }
        bucketCount[lowBucket] -= 1
        if bucketCount[lowBucket] * 2 < refreshedCount[lowBucket] { refreshBox(lowBucket) }
        // The merged centroid: new coordinates, and its bucket's box grows to hold them.
        let s = storeOf[high], b = bucketOf[high]
        let updated = Self.derived(centroid: centroid, slot: s, d: d, p: p, basis: basis, hasRemainder: hasRemainder)
        for j in 0..<p {
            projection[j * n + s] = updated.projection[j]
            include(bucket: b, coordinate: j, value: updated.projection[j])
        }
        remainder[s] = updated.remainder
        include(bucket: b, coordinate: p, value: updated.remainder)
    }

    struct Candidate {
        var distance: Double
        /// The cluster's slot.
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

    /// The nearest live cluster to slot x under SciPy's tie rules, starting from `start`.
    /// x's own bucket is scanned first (a good first bound); then every bucket's box bound is
    /// computed and the buckets that may still hold something closer are visited in increasing
    /// order of that bound, stopping at the first that exceeds the best distance found.
    mutating func nearest(to x: Int, start: Candidate, bounds: inout [Double], order: inout [(Double, Int)]) -> Candidate {
        let buckets = bucketCount.count
        let storeX = storeOf[x]
        let own = bucketOf[x]
        var scanned = scanBucket(x: x, range: bucketStart[own]..<(bucketStart[own] + bucketCount[own]), best: start)
        var best = scanned.best
        minSize[own] = scanned.smallestSize
        bounds.withUnsafeMutableBufferPointer { out in
            boxLow.withUnsafeBufferPointer { lowBuffer in
                boxHigh.withUnsafeBufferPointer { highBuffer in
                    for b in 0..<buckets { out[b] = 0 }
                    for j in 0...p {
                        let value = j < p ? projection[j * n + storeX] : remainder[storeX]
                        let low = lowBuffer.baseAddress! + j * buckets, high = highBuffer.baseAddress! + j * buckets
                        for b in 0..<buckets {
                            let gap = max(low[b] - value, 0) + max(value - high[b], 0)
                            out[b] += gap * gap
                        }
                    }
                }
            }
        }
        order.removeAll(keepingCapacity: true)
        let slack = self.slack
        for b in 0..<buckets where b != own && bucketCount[b] > 0 && bounds[b] - slack <= best.distance { order.append((bounds[b], b)) }
        order.sort { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }
        let sizeX = size[x]
        for (boxBound, b) in order {
            let lower = boxBound - slack
            if lower > best.distance { break }
            // Ward's size factor is at least 2·|x|·m / (|x| + m) for members of size ≥ m.
            let smallest = minSize[b]
            if 2 * sizeX * smallest / (sizeX + smallest) * lower > best.distance { continue }
            scanned = scanBucket(x: x, range: bucketStart[b]..<(bucketStart[b] + bucketCount[b]), best: best)
            best = scanned.best
            minSize[b] = scanned.smallestSize
        }
        return best
    }

    /// One bucket: exact distances to all its members (stored consecutively). Also returns the
    /// bucket's smallest member size.
    func scanBucket(x: Int, range: Range<Int>, best start: Candidate) -> (best: Candidate, smallestSize: Double) {
        var best = start
        let sizeX = size[x]
        let d = self.d
        var smallestSeen = Double.infinity
        centroid.withUnsafeBufferPointer { cent in
            storedSize.withUnsafeBufferPointer { sizes in
                slotAt.withUnsafeBufferPointer { slots in
                    let base = cent.baseAddress!
                    let cx = base + storeOf[x] * d
                    for s in range {
                        let sizeY = sizes[s]
                        smallestSeen = min(smallestSeen, sizeY)
                        let slot = slots[s]
                        if slot == x { continue }
                        let exact = Self.wardSquared(cx, base + s * d, d: d, sizeX: sizeX, sizeY: sizeY)
                        if exact <= best.distance {
                            let candidate = Candidate(distance: exact, position: slot, preferred: false)
                            if candidate.isBetter(than: best) { best = candidate }
                        }
                    }
                }
            }
        }
        return (best, smallestSeen)
    }
}
