import BirderCore
import Foundation

/// A sparse square matrix in compressed-row form, columns ascending within each row.
struct SparseMatrix {
    var n: Int
    var rowStart: [Int]     // n + 1 offsets
    var columns: [Int32]
    var values: [Float]

    var nonZeroCount: Int { columns.count }

    /// Builds from (row, column, value) triplets, adding duplicates and dropping zeros
    /// (scipy's `tocsr()` + `sum_duplicates()` + `eliminate_zeros()`).
    init(n: Int, rows: [Int32], columns: [Int32], values: [Float]) {
        self.n = n
        var counts = [Int](repeating: 0, count: n + 1)
        for r in rows { counts[Int(r) + 1] += 1 }
        for i in 0..<n { counts[i + 1] += counts[i] }
        var cursor = counts
        var sortedColumns = [Int32](repeating: 0, count: rows.count)
        var sortedValues = [Float](repeating: 0, count: rows.count)
        for e in 0..<rows.count {
            let r = Int(rows[e])
            sortedColumns[cursor[r]] = columns[e]
            sortedValues[cursor[r]] = values[e]
            cursor[r] += 1
        }
        var outStart = [Int](repeating: 0, count: n + 1)
        var outColumns = [Int32](), outValues = [Float]()
        outColumns.reserveCapacity(rows.count)
        outValues.reserveCapacity(rows.count)
        var order = [Int]()
        for r in 0..<n {
            order.removeAll(keepingCapacity: true)
            order.append(contentsOf: counts[r]..<counts[r + 1])
            order.sort { sortedColumns[$0] != sortedColumns[$1] ? sortedColumns[$0] < sortedColumns[$1] : $0 < $1 }
            var position = 0
            while position < order.count {
                let column = sortedColumns[order[position]]
                var sum: Float = 0
                while position < order.count && sortedColumns[order[position]] == column {
                    sum += sortedValues[order[position]]
                    position += 1
                }
                if sum != 0 {
                    outColumns.append(column)
                    outValues.append(sum)
                }
            }
            outStart[r + 1] = outColumns.count
        }
        rowStart = outStart
        self.columns = outColumns
        self.values = outValues
    }

    init(n: Int, rowStart: [Int], columns: [Int32], values: [Float]) {
        self.n = n
        self.rowStart = rowStart
        self.columns = columns
        self.values = values
    }

    /// The value at (row, column), 0 when absent (binary search in the row).
    func value(row: Int, column: Int32) -> Float {
        var low = rowStart[row], high = rowStart[row + 1]
        while low < high {
            let mid = (low + high) / 2
            if columns[mid] < column { low = mid + 1 } else { high = mid }
        }
        return low < rowStart[row + 1] && columns[low] == column ? values[low] : 0
    }

    var rowSums: [Double] {
        (0..<n).map { r in (rowStart[r]..<rowStart[r + 1]).reduce(0.0) { $0 + Double(values[$1]) } }
    }

    /// Connected components (labels 0..<count in order of first vertex); the matrix is symmetric.
    func connectedComponents() -> (count: Int, labels: [Int]) {
        var labels = [Int](repeating: -1, count: n)
        var count = 0
        var stack = [Int]()
        for start in 0..<n where labels[start] < 0 {
            labels[start] = count
            stack.append(start)
            while let v = stack.popLast() {
                for e in rowStart[v]..<rowStart[v + 1] {
                    let w = Int(columns[e])
                    if labels[w] < 0 {
                        labels[w] = count
                        stack.append(w)
                    }
                }
            }
            count += 1
        }
        return (count, labels)
    }

    /// The submatrix on `vertices` (ascending), renumbered 0..<vertices.count.
    func submatrix(_ vertices: [Int]) -> SparseMatrix {
        var newIndex = [Int32](repeating: -1, count: n)
        for (i, v) in vertices.enumerated() { newIndex[v] = Int32(i) }
        var start = [0], cols = [Int32](), vals = [Float]()
        for v in vertices {
            for e in rowStart[v]..<rowStart[v + 1] where newIndex[Int(columns[e])] >= 0 {
                cols.append(newIndex[Int(columns[e])])
                vals.append(values[e])
            }
            start.append(cols.count)
        }
        return SparseMatrix(n: vertices.count, rowStart: start, columns: cols, values: vals)
    }
}

/// umap-learn's fuzzy simplicial set: per-point smooth k-NN distances, membership strengths,
/// then the fuzzy union of the directed graph with its transpose.
enum FuzzySimplicialSet {
    static let smoothTolerance = 1e-5
    static let minimumDistanceScale = 1e-3

    /// `smooth_knn_dist`: for each row, rho = distance to the nearest non-identical neighbour
    /// (local_connectivity 1) and sigma from a 64-step binary search so that
    /// Σ_j exp(−(d_j − rho) / sigma) = log2(k).
    static func smoothDistances(_ graph: NeighborGraph, localConnectivity: Double = 1, iterations: Int = 64,
                                bandwidth: Double = 1, context: ComputeContext) -> (sigmas: [Float], rhos: [Float]) {
        let n = graph.n, k = graph.k
        let target = log2(Double(k)) * bandwidth
        var sigmas = [Float](repeating: 0, count: n)
        var rhos = [Float](repeating: 0, count: n)
        var meanAll = 0.0
        for value in graph.distances { meanAll += Double(value) }
        meanAll /= Double(max(graph.distances.count, 1))
        let meanDistances = meanAll
        graph.distances.withUnsafeBufferPointer { distances in
            sigmas.withUnsafeMutableBufferPointer { sigmaOut in
                rhos.withUnsafeMutableBufferPointer { rhoOut in
                    let shared = UncheckedSendable((distances.baseAddress!, sigmaOut.baseAddress!, rhoOut.baseAddress!))
                    context.parallelFor(n, grain: 256) { range in
                        let (distances, sigmaOut, rhoOut) = shared.value
                        var nonZero = [Float]()
                        for i in range {
                            let row = distances + i * k
                            nonZero.removeAll(keepingCapacity: true)
                            for j in 0..<k where row[j] > 0 { nonZero.append(row[j]) }
                            var rho: Float = 0
                            if Double(nonZero.count) >= localConnectivity {
                                let index = Int(localConnectivity.rounded(.down))
                                let interpolation = localConnectivity - Double(index)
                                if index > 0 {
                                    rho = nonZero[index - 1]
                                    if interpolation > smoothTolerance {
                                        rho += Float(interpolation) * (nonZero[index] - nonZero[index - 1])
                                    }
                                } else {
                                    rho = Float(interpolation) * nonZero[0]
                                }
                            } else if !nonZero.isEmpty {
                                rho = nonZero.max()!
                            }
                            var low = 0.0, high = Double(Float.greatestFiniteMagnitude), mid = 1.0
                            for _ in 0..<iterations {
                                var psum = 0.0
                                for j in 1..<k {
                                    let difference = row[j] - rho
                                    psum += difference > 0 ? exp(-(Double(difference) / mid)) : 1
                                }
                                if abs(psum - target) < smoothTolerance { break }
                                if psum > target {
                                    high = mid
                                    mid = (low + high) / 2
                                } else {
                                    low = mid
                                    if high >= Double(Float.greatestFiniteMagnitude) { mid *= 2 } else { mid = (low + high) / 2 }
                                }
                            }
                            var sigma = Float(mid)
                            if rho > 0 {
                                var rowMean = 0.0
                                for j in 0..<k { rowMean += Double(row[j]) }
                                rowMean /= Double(k)
                                if Double(sigma) < minimumDistanceScale * rowMean { sigma = Float(minimumDistanceScale * rowMean) }
                            } else if Double(sigma) < minimumDistanceScale * meanDistances {
                                sigma = Float(minimumDistanceScale * meanDistances)
                            }
                            sigmaOut[i] = sigma
                            rhoOut[i] = rho
                        }
                    }
                }
            }
        }
        return (sigmas, rhos)
    }

    /// The symmetric fuzzy graph: P + Pᵀ − P∘Pᵀ (set_op_mix_ratio 1) in float32 as scipy does it.
    static func build(_ graph: NeighborGraph, sigmas: [Float], rhos: [Float]) -> SparseMatrix {
        let n = graph.n, k = graph.k
        var rows = [Int32](), columns = [Int32](), values = [Float]()
        rows.reserveCapacity(n * k)
        columns.reserveCapacity(n * k)
        values.reserveCapacity(n * k)
        for i in 0..<n {
            for j in 0..<k {
                let neighbor = graph.indices[i * k + j]
                if neighbor < 0 { continue }
                let value: Float
                if Int(neighbor) == i {
                    value = 0
                } else if graph.distances[i * k + j] - rhos[i] <= 0 || sigmas[i] == 0 {
                    value = 1
                } else {
                    value = Float(exp(-Double((graph.distances[i * k + j] - rhos[i]) / sigmas[i])))
                }
                rows.append(Int32(i))
                columns.append(neighbor)
                values.append(value)
            }
        }
        let directed = SparseMatrix(n: n, rows: rows, columns: columns, values: values)
        // Union entry by entry: a = P(i, j), b = P(j, i).
        var unionRows = [Int32](), unionColumns = [Int32](), unionValues = [Float]()
        unionRows.reserveCapacity(2 * directed.nonZeroCount)
        unionColumns.reserveCapacity(2 * directed.nonZeroCount)
        unionValues.reserveCapacity(2 * directed.nonZeroCount)
        for i in 0..<n {
            for e in directed.rowStart[i]..<directed.rowStart[i + 1] {
                let j = directed.columns[e]
                let a = directed.values[e]
                let b = directed.value(row: Int(j), column: Int32(i))
                unionRows.append(Int32(i)); unionColumns.append(j); unionValues.append((a + b) - a * b)
                if b == 0 {
                    // (j, i) is absent from P: emit the mirrored entry here.
                    unionRows.append(j); unionColumns.append(Int32(i)); unionValues.append(a)
                }
            }
        }
        return SparseMatrix(n: n, rows: unionRows, columns: unionColumns, values: unionValues)
    }
}
