/// Encodes Birder `predict`'s per-class Parquet files — `--save-logits` and `--save-output` with
/// `--output-format parquet` (`_init_parquet_writer`): `sample: string`, optionally
/// `label: int64`, for `--save-output` `prediction: string` (the most probable class), then one
/// `float32` column per class named after it — with the Arrow schema in the footer as pyarrow
/// keeps it, so pyarrow, polars and Birder read the same column types as from Birder's own file.
///
/// Like `ParquetEmbeddingsEncoder` it does no I/O: `append` returns the bytes of every row group
/// it completed (at most one group is held) and `finish` the last group and the footer. Pages are
/// PLAIN and uncompressed, one data page per column chunk.
package struct ParquetScoresEncoder {
    package enum Kind: Sendable { case output, logits }

    package let classNames: [String]
    package let kind: Kind
    package let withLabels: Bool
    package let rowGroupRows: Int
    /// Bytes handed out so far.
    package private(set) var byteCount = 0
    package private(set) var rowsWritten = 0

    private var rowGroups: [ParquetRowGroup] = []
    private var pendingSamples: [String] = []
    private var pendingLabels: [Int64] = []
    /// Row-major, pending rows × classes.
    private var pendingScores: [Float] = []
    private var finished = false

    package init(classNames: [String], kind: Kind, withLabels: Bool, rowGroupRows: Int = 1024) {
        precondition(!classNames.isEmpty && rowGroupRows > 0)
        self.classNames = classNames
        self.kind = kind
        self.withLabels = withLabels
        self.rowGroupRows = rowGroupRows
    }

    /// Accepts rows (`scores` row-major, `samples.count × classNames.count`; `labels` one per row
    /// when the file has labels, Birder's -1 where unknown) and returns the bytes of the row
    /// groups they completed, which may be none.
    package mutating func append(samples: [String], labels: [Int64]? = nil, scores: [Float]) -> [UInt8] {
        precondition(!finished, "append after finish")
        let classes = classNames.count
        precondition(scores.count == samples.count * classes, "one score per class and sample")
        precondition(withLabels == (labels != nil) && (labels?.count ?? samples.count) == samples.count, "labels for every row, or none")
        var out = byteCount == 0 ? ParquetEmbeddingsEncoder.magic : []
        var next = 0
        while next < samples.count {
            let take = min(rowGroupRows - pendingSamples.count, samples.count - next)
            pendingSamples += samples[next..<(next + take)]
            if let labels { pendingLabels += labels[next..<(next + take)] }
            pendingScores += scores[(next * classes)..<((next + take) * classes)]
            next += take
            if pendingSamples.count == rowGroupRows { out += flush(at: byteCount + out.count) }
        }
        byteCount += out.count
        return out
    }

    /// The pending rows as a row group and the footer; the encoder takes no more rows after.
    package mutating func finish() -> [UInt8] {
        precondition(!finished, "finish twice")
        var out = byteCount == 0 ? ParquetEmbeddingsEncoder.magic : []
        if !pendingSamples.isEmpty { out += flush(at: byteCount + out.count) }
        let footer = metadata.encoded()
        out += footer
        withUnsafeBytes(of: UInt32(footer.count).littleEndian) { out.append(contentsOf: $0) }
        out += ParquetEmbeddingsEncoder.magic
        finished = true
        byteCount += out.count
        return out
    }

    var metadata: ParquetFileMetadata {
        ParquetFileMetadata(version: 2, schema: schema, numRows: Int64(rowsWritten), rowGroups: rowGroups,
                            keyValues: [("ARROW:schema", ArrowSchemaMessage.base64(arrowFields))],
                            createdBy: ParquetEmbeddingsEncoder.createdBy)
    }

    /// Encodes the pending rows as one row group starting at byte `start` of the file.
    private mutating func flush(at start: Int) -> [UInt8] {
        let rows = pendingSamples.count, classes = classNames.count
        var out: [UInt8] = []
        var offset = start
        var chunks: [ParquetColumnChunk] = []
        // Every value is present: one run of definition level 1 (the columns are nullable).
        let definitions = LevelEncoder.lengthPrefixed(LevelEncoder.runs([(1, rows)], bitWidth: 1))

        func add(_ name: String, _ type: ParquetPhysicalType, values: [UInt8]) {
            let page = definitions + values
            let header = ParquetPageHeader(type: .dataPage, uncompressedSize: page.count, compressedSize: page.count,
                                           numValues: rows, encoding: .plain).encoded()
            let size = Int64(header.count + page.count)
            chunks.append(ParquetColumnChunk(type: type, encodings: [.plain, .rle], path: [name], codec: .uncompressed,
                                             numValues: Int64(rows), totalUncompressedSize: size, totalCompressedSize: size,
                                             dataPageOffset: Int64(offset), dictionaryPageOffset: nil))
            out += header
            out += page
            offset += Int(size)
        }
        func strings(_ texts: [String]) -> [UInt8] {
            var bytes: [UInt8] = []
            for text in texts {
                let utf8 = Array(text.utf8)
                withUnsafeBytes(of: UInt32(utf8.count).littleEndian) { bytes.append(contentsOf: $0) }
                bytes += utf8
            }
            return bytes
        }

        add("sample", .byteArray, values: strings(pendingSamples))
        if withLabels {
            var bytes: [UInt8] = []
            bytes.reserveCapacity(8 * rows)
            for label in pendingLabels { withUnsafeBytes(of: label.littleEndian) { bytes.append(contentsOf: $0) } }
            add("label", .int64, values: bytes)
        }
        if kind == .output {
            add("prediction", .byteArray, values: strings((0..<rows).map { row in
                classNames[BirderCSV.argmax(Array(pendingScores[(row * classes)..<((row + 1) * classes)]))]
            }))
        }
        pendingScores.withUnsafeBufferPointer { scores in
            for (column, name) in classNames.enumerated() {
                var bytes: [UInt8] = []
                bytes.reserveCapacity(4 * rows)
                for row in 0..<rows {
                    withUnsafeBytes(of: scores[row * classes + column].bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
                }
                add(name, .float, values: bytes)
            }
        }

        rowGroups.append(ParquetRowGroup(columns: chunks, totalByteSize: chunks.reduce(0) { $0 + $1.totalUncompressedSize },
                                         numRows: Int64(rows)))
        rowsWritten += rows
        pendingSamples.removeAll(keepingCapacity: true)
        pendingLabels.removeAll(keepingCapacity: true)
        pendingScores.removeAll(keepingCapacity: true)
        return out
    }

    private var metadataColumns: [(String, ParquetPhysicalType, ArrowSchemaMessage.ArrowType)] {
        var columns: [(String, ParquetPhysicalType, ArrowSchemaMessage.ArrowType)] = [("sample", .byteArray, .utf8)]
        if withLabels { columns.append(("label", .int64, .int(bitWidth: 64, signed: true))) }
        if kind == .output { columns.append(("prediction", .byteArray, .utf8)) }
        return columns
    }

    var schema: [ParquetSchemaElement] {
        let metadata = metadataColumns.map { name, type, _ in
            type == .byteArray
                ? ParquetSchemaElement(name: name, type: type, repetition: .optional, convertedType: 0, logicalType: 1)
                : ParquetSchemaElement(name: name, type: type, repetition: .optional)
        }
        return [ParquetSchemaElement(name: "schema", numChildren: metadata.count + classNames.count)] + metadata
            + classNames.map { ParquetSchemaElement(name: $0, type: .float, repetition: .optional) }
    }

    var arrowFields: [ArrowSchemaMessage.ArrowField] {
        metadataColumns.map { ArrowSchemaMessage.ArrowField(name: $0.0, type: $0.2) }
            + classNames.map { ArrowSchemaMessage.ArrowField(name: $0, type: .float32) }
    }
}

/// A `ParquetScoresEncoder` writing into an `OutputFile` (a temporary renamed into place on
/// `commit`), a row at a time as images complete.
package final class ParquetScoresFile {
    private var encoder: ParquetScoresEncoder
    private let output: OutputFile

    package init(path: String, classNames: [String], kind: ParquetScoresEncoder.Kind, withLabels: Bool,
                 rowGroupRows: Int = 1024) throws(BirderIOError) {
        encoder = ParquetScoresEncoder(classNames: classNames, kind: kind, withLabels: withLabels, rowGroupRows: rowGroupRows)
        output = try OutputFile(path: path)
    }

    package func append(sample: String, label: Int?, scores: [Float]) throws(BirderIOError) {
        let bytes = encoder.append(samples: [sample], labels: encoder.withLabels ? [Int64(label ?? -1)] : nil, scores: scores)
        if !bytes.isEmpty { try output.write(bytes) }
    }

    /// Writes the last row group and the footer and moves the file into place.
    package func commit() throws(BirderIOError) {
        try output.write(encoder.finish())
        try output.commit()
    }

    package func discard() { output.discard() }
}
