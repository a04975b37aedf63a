import BirderCore
import Foundation

/// The result of Birder's clustering evaluation.
public struct ClusteringResult: Sendable {
    /// Adjusted mutual information between the true labels and the Ward clusters.
    public var ami: Double
    /// The Ward cluster of every row, 0..<clusters.
    public var clusterLabels: [Int]
    public var clusters: Int
    public var umap: UMAPReport
    /// Wall-clock seconds per stage: normalise, umap, ward, ami.
    public var seconds: [String: Double]
}

/// Birder's `eval/methods/ami.py` (Lowe et al. 2024, "An Empirical Study into Clustering of
/// Unseen Datasets with Self-Supervised Encoders"): rows L2-normalised (norm floor 1e-12) →
/// UMAP to `umapDim` dimensions (15 neighbours, min_dist 0) → Ward agglomerative clustering with
/// k = number of distinct true labels → adjusted mutual information (arithmetic).
public enum ClusteringEvaluation {
    public static func ami(embeddings: [Float], n: Int, d: Int, labels: [Int], umapDim: Int = 50,
                           l2Normalise: Bool = true, seed: UInt64 = 0, context: ComputeContext = .automatic) throws -> Double {
        try evaluate(embeddings: embeddings, n: n, d: d, labels: labels, umapDim: umapDim,
                     l2Normalise: l2Normalise, seed: seed, context: context).ami
    }

    /// The whole pipeline with its intermediate results. `clusters` defaults to the number of
    /// distinct labels (Birder's `n_clusters = num_classes`).
    public static func evaluate(embeddings: [Float], n: Int, d: Int, labels: [Int], umapDim: Int = 50,
                                l2Normalise: Bool = true, seed: UInt64 = 0, clusters: Int? = nil,
                                umapOptions: UMAPOptions? = nil, context: ComputeContext = .automatic) throws -> ClusteringResult {
        try checkMatrix(embeddings, n: n, d: d, name: "embeddings")
        guard labels.count == n else { throw EvaluationError.shapeMismatch(what: "labels", count: labels.count, expected: n) }
        let k = clusters ?? Set(labels).count
        guard k >= 1, k <= n else { throw EvaluationError.invalidParameter(name: "clusters", reason: "\(k) clusters for \(n) points") }
        var seconds = [String: Double]()
        var clock = Date()
        func lap(_ stage: String) {
            seconds[stage] = Date().timeIntervalSince(clock)
            clock = Date()
        }
        let features = l2Normalise ? normaliseRows(embeddings, n: n, d: d, context: context) : embeddings
        lap("normalise")
        var options = umapOptions ?? UMAPOptions()
        options.nComponents = umapDim
        options.seed = seed
        let (reduced, report) = try UMAP.embed(points: features, n: n, d: d, options: options, context: context)
        lap("umap")
        let assignment = try Ward.cluster(points: reduced, n: n, d: umapDim, k: k, context: context)
        lap("ward")
        let score = try adjustedMutualInformation(labelsTrue: labels, labelsPred: assignment, context: context)
        lap("ami")
        return ClusteringResult(ami: score, clusterLabels: assignment, clusters: k, umap: report, seconds: seconds)
    }

    /// Birder's `l2_normalize`: x / max(‖x‖, 1e-12) row by row.
    public static func normaliseRows(_ x: [Float], n: Int, d: Int, context: ComputeContext = .automatic) -> [Float] {
        var out = x
        out.withUnsafeMutableBufferPointer { buffer in
            let shared = UncheckedSendable(buffer.baseAddress!)
            context.parallelFor(n, grain: 512) { range in
                let base = shared.value
                for i in range {
                    let row = base + i * d
                    var s: Float = 0
                    for j in 0..<d { s += row[j] * row[j] }
                    let norm = max(s.squareRoot(), 1e-12)
                    for j in 0..<d { row[j] /= norm }
                }
            }
        }
        return out
    }
}
