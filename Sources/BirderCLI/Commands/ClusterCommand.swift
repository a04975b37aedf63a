import ArgumentParser
import Birder
import BirderReports
import Foundation

struct ClusterCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cluster",
        abstract: "Clustering quality of embeddings: L2-normalise → UMAP → Ward (k = number of classes) → AMI.",
        discussion: """
        Birder's AMI protocol (Lowe et al. 2024): UMAP with n_neighbors 15 and min_dist 0.0, Ward
        linkage without an n×n matrix, adjusted mutual information with arithmetic normalisation.

        --report draws the embeddings in 2-D (a seeded 2-D run of the same UMAP, min_dist 0.1), one
        point per sample coloured by label: .html (hover for the sample, click to open its image),
        .svg, .png or .pdf (drawn by Cairo).

        Example:
          birder cluster --data test.npy --output clusters.csv --report map.html
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

    @Option(name: .long, help: "Write a 2-D map of the embeddings coloured by label: .html, .svg, .png or .pdf (by extension).")
    var report: String?

    func run() throws {
        try reportingErrors {
            if let report { try ReportOption.check(report, allowed: ReportFormat.allCases) }
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
                if let report {
                    let coordinates = try EmbeddingMap.coordinates(embeddings: dataset.features, n: dataset.count, d: dataset.dimension,
                                                                   l2Normalise: !noL2, seed: seed)
                    let map = try EmbeddingMapReport(
                        title: "\(source.model ?? (data as NSString).lastPathComponent) — AMI \(String(format: "%.4f", result.ami))",
                        details: [source.model != nil ? "images: \(data)" : "embeddings: \(data)",
                                  "\(dataset.count) samples, \(classes.count) classes, \(result.clusters) Ward clusters",
                                  "UMAP 2-D, seed \(seed)"],
                        samples: dataset.samples, labels: dataset.labels, coordinates: coordinates,
                        links: ImageLinks.links(samples: dataset.samples, reportPath: report))
                    try ReportOption.write(report) { try map.write(to: report) }
                    Terminal.note("\(report): map of \(dataset.count) samples")
                }
            } catch {
                sink?.discard()
                throw error
            }
        }
    }
}
