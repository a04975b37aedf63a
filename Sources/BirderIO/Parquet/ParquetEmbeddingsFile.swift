/// A Parquet embeddings file written row group by row group through `ParquetEmbeddingsEncoder`
/// into an `OutputFile` (a temporary renamed into place on `commit`, so an interrupted run never
/// leaves a half-written file under the destination's name).
package final class ParquetEmbeddingsFile {
    private var encoder: ParquetEmbeddingsEncoder
    private let output: OutputFile

    package init(path: String, dimension: Int, withLabels: Bool, rowGroupRows: Int = 4096) throws(BirderIOError) {
        encoder = ParquetEmbeddingsEncoder(dimension: dimension, withLabels: withLabels, rowGroupRows: rowGroupRows)
        output = try OutputFile(path: path)
    }

    /// Bytes written so far (whole row groups).
    package var byteCount: Int { encoder.byteCount }

    package func append(samples: [String], labels: [Int64]? = nil, embeddings: [Float]) throws(BirderIOError) {
        let bytes = encoder.append(samples: samples, labels: labels, embeddings: embeddings)
        if !bytes.isEmpty { try output.write(bytes) }
    }

    /// Writes the last row group and the footer and moves the file into place.
    package func commit() throws(BirderIOError) {
        try output.write(encoder.finish())
        try output.commit()
    }

    /// Writes a whole matrix (`embeddings`: samples.count × dimension, row-major) at once.
    package static func write(samples: [String], labels: [Int64]?, embeddings: [Float], dimension: Int,
                              to path: String, rowGroupRows: Int = 4096) throws(BirderIOError) {
        let file = try ParquetEmbeddingsFile(path: path, dimension: dimension, withLabels: labels != nil, rowGroupRows: rowGroupRows)
        try file.append(samples: samples, labels: labels, embeddings: embeddings)
        try file.commit()
    }
}
