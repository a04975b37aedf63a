import BirderCore
import Foundation

/// Adjusted mutual information between two labelings, arithmetic normalisation: what
/// scikit-learn's `adjusted_mutual_info_score(labels_true, labels_pred)` returns, to about 1e-12.
///
/// Labels are arbitrary integers (only equality matters). The special cases follow scikit-learn:
/// both labelings a single cluster (or both empty) → 1; exactly one of them a single cluster → 0.
/// The expected mutual information is the exact hypergeometric sum (Vinh et al. 2010) computed
/// in log-gamma space as scikit-learn's `expected_mutual_information` does.
public func adjustedMutualInformation(labelsTrue: [Int], labelsPred: [Int],
                                      context: ComputeContext = .automatic) throws -> Double {
    guard labelsTrue.count == labelsPred.count else {
        throw EvaluationError.shapeMismatch(what: "labelsPred", count: labelsPred.count, expected: labelsTrue.count)
    }
    let table = ContingencyTable(labelsTrue, labelsPred)
    let rows = table.rowSums.count, columns = table.columnSums.count
    if (rows == 1 && columns == 1) || (rows == 0 && columns == 0) { return 1 }
    if rows == 1 || columns == 1 { return 0 }

    let mi = table.mutualInformation()
    let emi = table.expectedMutualInformation(context: context)
    let hTrue = entropy(counts: table.rowSums), hPred = entropy(counts: table.columnSums)
    let normalizer = (hTrue + hPred) / 2
    let eps = Double.ulpOfOne
    // scikit-learn keeps the signs but never lets either side reach 0 (0/0 on a perfect match).
    var denominator = normalizer - emi
    denominator = denominator < 0 ? min(denominator, -eps) : max(denominator, eps)
    var numerator = mi - emi
    numerator = numerator < 0 ? min(numerator, -eps) : max(numerator, eps)
    return numerator / denominator
}

/// Mutual information (natural log) of two labelings, as scikit-learn's `mutual_info_score`.
public func mutualInformation(labelsTrue: [Int], labelsPred: [Int]) throws -> Double {
    guard labelsTrue.count == labelsPred.count else {
        throw EvaluationError.shapeMismatch(what: "labelsPred", count: labelsPred.count, expected: labelsTrue.count)
    }
    return ContingencyTable(labelsTrue, labelsPred).mutualInformation()
}

/// Entropy (natural log) of a labeling from its class counts, as scikit-learn's `_entropy`.
func entropy(counts: [Int]) -> Double {
    if counts.isEmpty { return 1 }
    if counts.count == 1 { return 0 }
    let total = Double(counts.reduce(0, +))
    let logTotal = log(total)
    var sum = 0.0
    for c in counts {
        let p = Double(c)
        sum += (p / total) * (log(p) - logTotal)
    }
    return -sum
}

/// The sparse contingency table of two labelings: classes and clusters numbered in increasing
/// label order (numpy's `unique`), non-zero cells in row-major order (scipy's CSR).
struct ContingencyTable {
    var rowSums: [Int] = []
    var columnSums: [Int] = []
    /// Non-zero cells: (row, column, count), sorted by row then column.
    var cells: [(row: Int, column: Int, count: Int)] = []
    var total: Int = 0

    init(_ labelsTrue: [Int], _ labelsPred: [Int]) {
        let rowIndex = Self.denseIndices(labelsTrue)
        let columnIndex = Self.denseIndices(labelsPred)
        rowSums = [Int](repeating: 0, count: rowIndex.classes)
        columnSums = [Int](repeating: 0, count: columnIndex.classes)
        total = labelsTrue.count
        guard total > 0 else { return }
        let columns = columnIndex.classes
        var keys = [Int](repeating: 0, count: total)
        for i in 0..<total {
            let r = rowIndex.indices[i], c = columnIndex.indices[i]
            rowSums[r] += 1
            columnSums[c] += 1
            keys[i] = r * columns + c
        }
        keys.sort()
        var start = 0
        while start < total {
            var end = start + 1
            while end < total && keys[end] == keys[start] { end += 1 }
            cells.append((keys[start] / columns, keys[start] % columns, end - start))
            start = end
        }
    }

    /// Maps labels to 0..<k in increasing label order.
    static func denseIndices(_ labels: [Int]) -> (indices: [Int], classes: Int) {
        let unique = Array(Set(labels)).sorted()
        var map = [Int: Int](minimumCapacity: unique.count)
        for (i, label) in unique.enumerated() { map[label] = i }
        return (labels.map { map[$0]! }, unique.count)
    }

    func mutualInformation() -> Double {
        if rowSums.count == 1 || columnSums.count == 1 { return 0 }
        let n = Double(total)
        let logN = log(n)
        // pi.sum() and pj.sum() are both n; scikit-learn takes the log of each.
        var sum = 0.0
        for cell in cells {
            let nij = Double(cell.count)
            let pnm = nij / n
            let outer = Double(rowSums[cell.row] * columnSums[cell.column])
            let logOuter = -log(outer) + logN + logN
            var term = pnm * (log(nij) - logN) + pnm * logOuter
            if abs(term) < Double.ulpOfOne { term = 0 }
            sum += term
        }
        return max(sum, 0)
    }

    /// The expected mutual information under the hypergeometric model of random labelings with
    /// these marginals. Every log-gamma the sum needs is lgamma(m) for an integer 1 ≤ m ≤ n + 1,
    /// so one table replaces the per-term calls; rows run in parallel and are added in row order,
    /// so the result does not depend on the thread count.
    func expectedMutualInformation(context: ComputeContext) -> Double {
        let a = rowSums, b = columnSums
        if a.count == 1 || b.count == 1 { return 0 }
        let n = total
        let nD = Double(n)
        var lgammaOf = [Double](repeating: 0, count: n + 2)
        for m in 1...(n + 1) { lgammaOf[m] = lgamma(Double(m)) }
        let maxCount = max(a.max() ?? 0, b.max() ?? 0)
        var term1 = [Double](repeating: 0, count: maxCount + 1)
        var logNnij = [Double](repeating: 0, count: maxCount + 1)
        let logN = log(nD)
        for nij in 1...max(maxCount, 1) where nij <= maxCount {
            term1[nij] = Double(nij) / nD
            logNnij[nij] = logN + log(Double(nij))
        }
        let logA = a.map { log(Double($0)) }, logB = b.map { log(Double($0)) }
        let glnA = a.map { lgammaOf[$0 + 1] }, glnB = b.map { lgammaOf[$0 + 1] }
        let glnNA = a.map { lgammaOf[n - $0 + 1] }, glnNB = b.map { lgammaOf[n - $0 + 1] }
        let glnN1 = lgammaOf[n + 1]
        var rowTotals = [Double](repeating: 0, count: a.count)
        rowTotals.withUnsafeMutableBufferPointer { out in
            lgammaOf.withUnsafeBufferPointer { lg in
                let shared = UncheckedSendable(out)
                context.parallelFor(a.count, grain: max(1, 2048 / max(b.count, 1))) { range in
                    for i in range {
                        var rowSum = 0.0
                        let ai = a[i]
                        for j in 0..<b.count {
                            let bj = b[j]
                            let start = max(1, ai - n + bj)
                            let end = min(ai, bj) + 1
                            guard start < end else { continue }
                            let fixed = glnA[i] + glnB[j] + glnNA[i] + glnNB[j]
                            for nij in start..<end {
                                let term2 = logNnij[nij] - logA[i] - logB[j]
                                let gln = fixed - (lg[nij + 1] + glnN1) - lg[ai - nij + 1] - lg[bj - nij + 1]
                                    - lg[n - ai - bj + nij + 1]
                                rowSum += term1[nij] * term2 * exp(gln)
                            }
                        }
                        shared.value[i] = rowSum
                    }
                }
            }
        }
        var emi = 0.0
        for value in rowTotals { emi += value }
        return emi
    }
}
