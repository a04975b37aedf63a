import ArgumentParser
import Birder
import Foundation

struct ClusterCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cluster",
        abstract: "Clustering quality of embeddings: L2-normalise → UMAP → Ward (k = number of classes) → AMI.",
        discussion: """
        Birder's AMI protocol (Lowe et al. 2024): UMAP with n_neighbors 15 and min_dist 0.0, Ward
        linkage without an n×n matrix, adjusted mutual information with arithmetic normalisation.

        Example:
          birder cluster --data test.npy --output clusters.csv
        """)

    @Option(name: .long, help: "Embeddings (.npy with .samples.txt, .csv, .safetensors, or .parquet as Birder writes it), or an image folder with --model.")
    var data: String

    @OptionGroup var labelOption: LabelOption
    @OptionGroup var source: EmbeddingSourceOptions

    @Option(name: .long, help: "UMAP output dimensions.")
    var umapDim = 50

    @Flag(name: .long, help: "Skip the L2 normalisation of rows.")
    var noL2 = false

    @Option(name: .long, help: "UMAP seed.")
    var seed: UInt64 = 0

    @Option(name: .long, help: "Write sample,label,cluster rows to this CSV.")
    var output: String?

    func run() throws {
        try reportingErrors {
            let sink = try output.map(OutputSink.init(path:))
            do {
                let dataset = try EmbeddingDataset.load(source.embeddingsFile(for: data), labelsFile: labelOption.labels)
                let (classes, indices) = dataset.indexedLabels()
                let result = try ClusteringEvaluation.evaluate(
                    embeddings: dataset.features, n: dataset.count, d: dataset.dimension, labels: indices.map { $0! },
                    umapDim: umapDim, l2Normalise: !noL2, seed: seed)
                print(String(format: "AMI %.4f (%d samples, %d classes, %d clusters)", result.ami, dataset.count, classes.count, result.clusters))
                if let sink {
                    try sink.write("sample,label,cluster\n")
                    for (i, sample) in dataset.samples.enumerated() {
                        try sink.write("\(TextFormat.csvField(sample)),\(TextFormat.csvField(dataset.labels[i])),\(result.clusterLabels[i])\n")
                    }
                    try sink.commit()
                }
            } catch {
                sink?.discard()
                throw error
            }
        }
    }
}
