import BirderCore
import Foundation

/// k nearest neighbours of every point, each row starting with the point itself at distance 0
/// (the layout umap-learn's `nearest_neighbors` returns).
struct NeighborGraph {
    var n: Int
    var k: Int
    /// n × k, row-major.
    var indices: [Int32]
    /// n × k Euclidean distances, ascending within a row.
    var distances: [Float]
}

enum NearestNeighbors {
    /// Exact Euclidean k-NN. Candidates come from ‖x‖² + ‖y‖² − 2·x·y, the dot products by BLAS
    /// GEMM over row blocks against the rows after them only (the Gram matrix is symmetric, so
    /// each block feeds the candidate lists of its own rows and, transposed, of the later rows:
    /// half the arithmetic of a full product). The few best candidates of each row are then
    /// re-measured directly in double precision, so cancellation in that identity cannot
    /// misorder close neighbours.
    static func exact(points: [Float], n: Int, d: Int, k: Int, context: ComputeContext) -> NeighborGraph {
        precondition(k >= 1 && k <= n, "NearestNeighbors: k = \(k) for \(n) points")
        var graph = NeighborGraph(n: n, k: k, indices: [Int32](repeating: 0, count: n * k),
                                  distances: [Float](repeating: 0, count: n * k))
        // Candidates kept per row before the exact re-measure: a margin for rounding.
        let keep = min(n - 1, k - 1 + 8)
        guard keep > 0 else {
            for i in 0..<n { graph.indices[i * k] = Int32(i) }
            return graph
        }
        var norms = [Float](repeating: 0, count: n)
        points.withUnsafeBufferPointer { x in
            let base = x.baseAddress!
            for i in 0..<n {
                var s = 0.0
                for j in 0..<d { let v = Double(base[i * d + j]); s += v * v }
                norms[i] = Float(s)
            }
        }
        var candidates = CandidateLists(rows: n, capacity: keep)
        // Row blocks sized so a block's dot products stay near 64 MB.
        let block = max(32, min(4096, (16 << 20) / max(n, 1)))
        var dots = [Float](repeating: 0, count: min(block, n) * n)
        var start = 0
        while start < n {
            let rows = min(block, n - start)
            let columns = n - start
            points.withUnsafeBufferPointer { x in
                dots.withUnsafeMutableBufferPointer { out in
                    context.gemm(.none, .transposed, m: rows, n: columns, k: d, a: x.baseAddress! + start * d, lda: d,
                         b: x.baseAddress! + start * d, ldb: d, c: out.baseAddress!, ldc: columns)
                }
            }
            dots.withUnsafeBufferPointer { dotBuffer in
                norms.withUnsafeBufferPointer { norm in
                    candidates.withPointers { lists in
                        let shared = UncheckedSendable((dotBuffer.baseAddress!, norm.baseAddress!, lists))
                        // The block's own rows, against every column from the block on.
                        context.parallelFor(rows, grain: 4) { range in
                            let (dots, norm, lists) = shared.value
                            for r in range {
                                let i = start + r
                                let row = dots + r * columns
                                let ni = norm[i]
                                var threshold = lists.threshold(i)
                                var c = 0
                                while c < columns {
                                    let j = start + c
                                    let squared = ni + norm[j] - 2 * row[c]
                                    if squared < threshold && j != i { threshold = lists.insert(i, squared, Int32(j)) }
                                    c += 1
                                }
                            }
                        }
                        // The later rows, against the block's rows: 16 columns at a time so each
                        // block row is read one cache line per tile.
                        let tile = 16
                        let later = columns - rows
                        context.parallelFor((later + tile - 1) / tile, grain: 4) { range in
                            let (dots, norm, lists) = shared.value
                            var thresholds = [Float](repeating: 0, count: tile)
                            for t in range {
                                let c0 = rows + t * tile
                                let width = min(tile, columns - c0)
                                for w in 0..<width { thresholds[w] = lists.threshold(start + c0 + w) }
                                for r in 0..<rows {
                                    let row = dots + r * columns + c0
                                    let nr = norm[start + r]
                                    for w in 0..<width {
                                        let j = start + c0 + w
                                        let squared = nr + norm[j] - 2 * row[w]
                                        if squared < thresholds[w] { thresholds[w] = lists.insert(j, squared, Int32(start + r)) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            start += rows
        }
        // Re-measure the candidates exactly and keep the k − 1 nearest after the point itself.
        points.withUnsafeBufferPointer { x in
            candidates.withPointers { lists in
                graph.indices.withUnsafeMutableBufferPointer { indexOut in
                    graph.distances.withUnsafeMutableBufferPointer { distanceOut in
                        let shared = UncheckedSendable((x.baseAddress!, lists, indexOut.baseAddress!, distanceOut.baseAddress!))
                        context.parallelFor(n, grain: 64) { range in
                            let (x, lists, indexOut, distanceOut) = shared.value
                            var exact = [(Double, Int32)]()
                            exact.reserveCapacity(keep)
                            for i in range {
                                exact.removeAll(keepingCapacity: true)
                                let xi = x + i * d
                                for c in 0..<lists.count(i) {
                                    let j = lists.index(i, c)
                                    let xj = x + Int(j) * d
                                    var s = 0.0
                                    for t in 0..<d { let diff = Double(xi[t]) - Double(xj[t]); s += diff * diff }
                                    exact.append((s.squareRoot(), j))
                                }
                                exact.sort { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }
                                indexOut[i * k] = Int32(i)
                                distanceOut[i * k] = 0
                                for c in 0..<(k - 1) {
                                    indexOut[i * k + 1 + c] = exact[c].1
                                    distanceOut[i * k + 1 + c] = Float(exact[c].0)
                                }
                            }
                        }
                    }
                }
            }
        }
        return graph
    }
}

/// Per-row lists of the `capacity` smallest candidates seen, in flat arrays: unsorted, with the
/// largest kept value cached as the entry threshold (almost every candidate of a k-NN scan is
/// rejected by that one comparison).
struct CandidateLists {
    let capacity: Int
    var values: [Float]
    var indices: [Int32]
    var counts: [Int32]
    var worst: [Int32]
    var thresholds: [Float]

    init(rows: Int, capacity: Int) {
        self.capacity = capacity
        values = [Float](repeating: .infinity, count: rows * capacity)
        indices = [Int32](repeating: -1, count: rows * capacity)
        counts = [Int32](repeating: 0, count: rows)
        worst = [Int32](repeating: 0, count: rows)
        thresholds = [Float](repeating: .infinity, count: rows)
    }

    /// Raw access for worker threads, each of which touches only its own rows.
    struct Pointers {
        let capacity: Int
        let values: UnsafeMutablePointer<Float>
        let indices: UnsafeMutablePointer<Int32>
        let counts: UnsafeMutablePointer<Int32>
        let worst: UnsafeMutablePointer<Int32>
        let thresholds: UnsafeMutablePointer<Float>

        func threshold(_ row: Int) -> Float { thresholds[row] }
        func count(_ row: Int) -> Int { Int(counts[row]) }
        func index(_ row: Int, _ c: Int) -> Int32 { indices[row * capacity + c] }

        /// Inserts (value < threshold) and returns the row's new threshold.
        func insert(_ row: Int, _ value: Float, _ index: Int32) -> Float {
            let base = row * capacity
            let filled = Int(counts[row])
            let slot: Int
            if filled < capacity {
                slot = filled
                counts[row] = Int32(filled + 1)
            } else {
                slot = Int(worst[row])
            }
            values[base + slot] = value
            indices[base + slot] = index
            if filled + 1 >= capacity {
                var w = 0
                for c in 1..<capacity where values[base + c] > values[base + w] { w = c }
                worst[row] = Int32(w)
                thresholds[row] = values[base + w]
            }
            return thresholds[row]
        }
    }

    mutating func withPointers<R>(_ body: (Pointers) -> R) -> R {
        let capacity = self.capacity
        return values.withUnsafeMutableBufferPointer { v in
            indices.withUnsafeMutableBufferPointer { i in
                counts.withUnsafeMutableBufferPointer { c in
                    worst.withUnsafeMutableBufferPointer { w in
                        thresholds.withUnsafeMutableBufferPointer { t in
                            body(Pointers(capacity: capacity, values: v.baseAddress!, indices: i.baseAddress!,
                                          counts: c.baseAddress!, worst: w.baseAddress!, thresholds: t.baseAddress!))
                        }
                    }
                }
            }
        }
    }
}
