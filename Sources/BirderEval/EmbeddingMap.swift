import BirderCore

/// A 2-D picture of embeddings: the same pipeline as the clustering evaluation up to UMAP
/// (rows L2-normalised, 15 neighbours), run to 2 components for a scatter plot.
public enum EmbeddingMap {
    /// Row-major n × 2 coordinates, each axis min–max scaled to [0, 10] (UMAP's initial scaling;
    /// the layout moves points slightly beyond it). `minDist` 0.1 is umap-learn's default for
    /// pictures; the AMI protocol's 0 packs each class into a dot. One layout thread keeps a seed's
    /// picture identical from run to run.
    public static func coordinates(embeddings: [Float], n: Int, d: Int, l2Normalise: Bool = true, seed: UInt64 = 0,
                                   minDist: Double = 0.1, context: ComputeContext = .automatic) throws -> [Float] {
        try checkMatrix(embeddings, n: n, d: d, name: "embeddings")
        let features = l2Normalise ? ClusteringEvaluation.normaliseRows(embeddings, n: n, d: d, context: context) : embeddings
        var options = UMAPOptions(nComponents: 2, nNeighbors: 15, minDist: minDist, seed: seed)
        options.layoutThreads = 1
        return try UMAP.embed(points: features, n: n, d: d, options: options, context: context).embedding
    }
}
