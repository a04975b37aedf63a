/// Reads Birder's Parquet embeddings — `sample: string`, optional `label: int64`,
/// `embedding: fixed_size_list<float32>[D]` — as Birder (`predict --output-format parquet`),
/// pyarrow, polars or this project's writer write them: snappy, zstd or uncompressed pages,
/// PLAIN or dictionary-coded, data pages v1 or v2, any number of row groups. Other columns (a
/// `prediction`, per-class scores) are ignored.
///
/// Row groups are read one at a time (`rows(inGroup:)`), so memory follows the largest row group,
/// not the file. Anything malformed is refused with the file named and the reason.
package struct ParquetEmbeddingsReader {
    package let path: String
    package let rowCount: Int
    package let rowGroupCount: Int
    /// Whether the file has a `label` column.
    package let hasLabels: Bool
    private let metadata: ParquetFileMetadata
    private let columns: Columns
    private let fileSize: Int
    private let footerStart: Int

    /// Rows of one row group.
    package struct Rows: Equatable {
        package var samples: [String]
        /// nil where the file has no label column; a null label reads as nil.
        package var labels: [Int64?]?
        /// count × dimension, row-major.
        package var embeddings: [Float]
        package var dimension: Int
    }

    private struct Leaf {
        var index: Int
        var maxDefinition: Int
        var maxRepetition: Int
    }

    private struct Columns {
        var sample: Leaf
        var label: Leaf?
        var embedding: Leaf
        /// Leaf columns in the schema: column chunks per row group.
        var leafCount: Int
    }

    package init(path: String) throws(BirderIOError) {
        self.path = path
        let file = try RegularFile(path: path)
        defer { file.close() }
        fileSize = file.size
        func fail(_ reason: String) -> BirderIOError { .invalidContent(path: path, reason: "not a readable Parquet file: \(reason)") }
        guard fileSize >= 12 else { throw fail("\(fileSize) bytes is too short") }
        var head = [UInt8](repeating: 0, count: 4), tail = [UInt8](repeating: 0, count: 8)
        try file.read(into: &head, at: 0)
        try file.read(into: &tail, at: fileSize - 8)
        guard head == Array("PAR1".utf8) else { throw fail("it does not start with PAR1") }
        guard Array(tail[4...]) == Array("PAR1".utf8) else {
            throw fail(Array(tail[4...]) == Array("PARE".utf8) ? "its footer is encrypted" : "it does not end with PAR1 (cut short?)")
        }
        let footerLength = Int(UInt32(tail[0]) | UInt32(tail[1]) << 8 | UInt32(tail[2]) << 16 | UInt32(tail[3]) << 24)
        guard footerLength <= fileSize - 12 else { throw fail("a footer of \(footerLength) bytes in a file of \(fileSize)") }
        footerStart = fileSize - 8 - footerLength
        var footer = [UInt8](repeating: 0, count: footerLength)
        try file.read(into: &footer, at: footerStart)
        do {
            metadata = try withBytes(footer) { (raw) throws(ThriftError) in
                var reader = ThriftReader(raw)
                return try ParquetFileMetadata(thrift: try reader.readStruct())
            }
        } catch { throw fail("footer: \(error.reason)") }
        columns = try Self.findColumns(metadata.schema, path: path)
        hasLabels = columns.label != nil
        rowGroupCount = metadata.rowGroups.count
        var total = 0
        for (i, group) in metadata.rowGroups.enumerated() {
            guard group.columns.count == columns.leafCount else {
                throw fail("row group \(i) has \(group.columns.count) column chunks for a schema of different width")
            }
            let (sum, overflow) = total.addingReportingOverflow(Int(group.numRows))
            guard !overflow else { throw fail("row counts overflow") }
            total = sum
        }
        guard total == Int(metadata.numRows) else { throw fail("row groups hold \(total) rows, the footer says \(metadata.numRows)") }
        rowCount = total
    }

    /// Reads the file's rows, row group after row group, into one matrix.
    package static func readAll(path: String) throws(BirderIOError) -> Rows {
        let reader = try ParquetEmbeddingsReader(path: path)
        var all = Rows(samples: [], labels: reader.hasLabels ? [] : nil, embeddings: [], dimension: 0)
        for group in 0..<reader.rowGroupCount {
            let rows = try reader.rows(inGroup: group)
            if group > 0, rows.dimension != all.dimension, !rows.samples.isEmpty, !all.samples.isEmpty {
                throw .invalidContent(path: path, reason: "row group \(group) has embeddings of \(rows.dimension) values, earlier ones \(all.dimension)")
            }
            if !rows.samples.isEmpty { all.dimension = rows.dimension }
            all.samples += rows.samples
            if let labels = rows.labels { all.labels! += labels }
            all.embeddings += rows.embeddings
        }
        return all
    }

    /// The rows of row group `index`.
    package func rows(inGroup index: Int) throws(BirderIOError) -> Rows {
        let group = metadata.rowGroups[index]
        let count = Int(group.numRows)
        func fail(_ reason: String) -> BirderIOError { .invalidContent(path: path, reason: "row group \(index): \(reason)") }
        let file = try RegularFile(path: path)
        defer { file.close() }
        guard file.size == fileSize else { throw .io(path: path, reason: "file changed while being read") }

        let sample = try decode(group.columns[columns.sample.index], columns.sample, file: file, group: index)
        guard case .byteArrays(let names) = sample.values else { throw fail("sample column is not a string column") }
        guard names.count == count, sample.slotCount == count else {
            throw fail("\(names.count) sample names for \(count) rows (a null sample?)")
        }
        var samples: [String] = []
        samples.reserveCapacity(count)
        for name in names {
            guard let text = utf8String(name) else { throw fail("a sample name is not UTF-8") }
            samples.append(text)
        }

        var labels: [Int64?]?
        if let leaf = columns.label {
            let label = try decode(group.columns[leaf.index], leaf, file: file, group: index)
            guard case .int64(let values) = label.values, label.slotCount == count else { throw fail("label column does not have one value per row") }
            var next = 0
            labels = (0..<count).map { row in
                if let levels = label.definitionLevels, Int(levels[row]) != leaf.maxDefinition { return nil }
                defer { next += 1 }
                return values[next]
            }
        }

        let leaf = columns.embedding
        let embedding = try decode(group.columns[leaf.index], leaf, file: file, group: index)
        guard case .float(let values) = embedding.values else { throw fail("embedding column is not float32") }
        // Rows start where the repetition level is 0; each must hold the same number of values,
        // none of them null (Birder's fixed-size list has no holes).
        var dimension = -1, rows = 0, inRow = 0
        let definitions = embedding.definitionLevels
        for slot in 0..<embedding.slotCount {
            let startsRow = embedding.repetitionLevels.map { $0[slot] == 0 } ?? true
            if startsRow {
                if rows > 0 { try finishRow(inRow, &dimension, row: rows - 1, fail) }
                rows += 1
                inRow = 0
            }
            if let definitions, Int(definitions[slot]) != leaf.maxDefinition {
                throw fail("row \(rows - 1) (\(samples[safe: rows - 1] ?? "?")) has a missing embedding or a null value in it")
            }
            inRow += 1
        }
        if rows > 0 { try finishRow(inRow, &dimension, row: rows - 1, fail) }
        guard rows == count else { throw fail("\(rows) embeddings for \(count) rows") }
        guard values.count == rows * max(dimension, 0) else { throw fail("\(values.count) embedding values for \(rows) rows of \(dimension)") }
        return Rows(samples: samples, labels: labels, embeddings: values, dimension: max(dimension, 0))
    }

    private func finishRow(_ length: Int, _ dimension: inout Int, row: Int, _ fail: (String) -> BirderIOError) throws(BirderIOError) {
        if dimension < 0 { dimension = length }
        guard length == dimension else { throw fail("row \(row) has an embedding of \(length) values, earlier rows \(dimension)") }
    }

    private func decode(_ chunk: ParquetColumnChunk, _ leaf: Leaf, file: RegularFile, group: Int) throws(BirderIOError) -> ParquetColumnDecoder.Decoded {
        let start = Int(chunk.start), length = Int(chunk.totalCompressedSize)
        guard start >= 4, length >= 0, start <= footerStart, length <= footerStart - start else {
            throw .invalidContent(path: path, reason: "row group \(group): column \(chunk.path.joined(separator: ".")) lies outside the file's data (offset \(start), \(length) bytes)")
        }
        var bytes = [UInt8](repeating: 0, count: length)
        try file.read(into: &bytes, at: start)
        let decoder = ParquetColumnDecoder(chunk: chunk, maxDefinitionLevel: leaf.maxDefinition, maxRepetitionLevel: leaf.maxRepetition)
        do {
            return try withBytes(bytes) { (raw) throws(ParquetColumnDecoder.Failure) in try decoder.decode(raw) }
        } catch {
            throw .invalidContent(path: path, reason: "row group \(group): \(error.reason)")
        }
    }

    /// The leaf columns of Birder's schema, found by name, with their maximum levels.
    private static func findColumns(_ schema: [ParquetSchemaElement], path: String) throws(BirderIOError) -> Columns {
        struct Found { var path: [String]; var element: ParquetSchemaElement; var maxDefinition: Int; var maxRepetition: Int }
        var leaves: [Found] = []
        var index = 1
        func walk(_ prefix: [String], children: Int, definition: Int, repetition: Int, depth: Int) throws(BirderIOError) {
            guard depth < 32 else { throw .invalidContent(path: path, reason: "Parquet schema nested too deep") }
            for _ in 0..<children {
                guard index < schema.count else { throw .invalidContent(path: path, reason: "Parquet schema lists fewer elements than its groups claim") }
                let element = schema[index]
                index += 1
                let d = definition + (element.repetition == .required ? 0 : 1)
                let r = repetition + (element.repetition == .repeated ? 1 : 0)
                if element.numChildren > 0 {
                    guard element.numChildren < schema.count else { throw .invalidContent(path: path, reason: "Parquet schema group claims \(element.numChildren) children") }
                    try walk(prefix + [element.name], children: element.numChildren, definition: d, repetition: r, depth: depth + 1)
                } else {
                    leaves.append(Found(path: prefix + [element.name], element: element, maxDefinition: d, maxRepetition: r))
                }
            }
        }
        guard let root = schema.first else { throw .invalidContent(path: path, reason: "Parquet schema is empty") }
        try walk([], children: root.numChildren, definition: 0, repetition: 0, depth: 0)
        func leaf(_ match: (Found) -> Bool) -> Leaf? {
            guard let i = leaves.firstIndex(where: match) else { return nil }
            return Leaf(index: i, maxDefinition: leaves[i].maxDefinition, maxRepetition: leaves[i].maxRepetition)
        }
        let columnsText = Array(Set(leaves.map { $0.path[0] })).sorted().joined(separator: ", ")
        guard let sample = leaf({ $0.path == ["sample"] && $0.element.type == .byteArray }) else {
            throw .invalidContent(path: path, reason: "no string column `sample` (Birder's embeddings have sample, label, embedding; this file has \(columnsText))")
        }
        guard let embedding = leaf({ $0.path.first == "embedding" && $0.path.count <= 3 && $0.element.type == .float }),
              embedding.maxRepetition == 1 else {
            throw .invalidContent(path: path, reason: "no float32 list column `embedding` (Birder's embeddings have sample, label, embedding; this file has \(columnsText))")
        }
        let label = leaf({ $0.path == ["label"] && ($0.element.type == .int64 || $0.element.type == .int32) })
        guard sample.maxRepetition == 0, (label?.maxRepetition ?? 0) == 0 else {
            throw .invalidContent(path: path, reason: "`sample` and `label` must be one value per row")
        }
        return Columns(sample: sample, label: label, embedding: embedding, leafCount: leaves.count)
    }
}

/// UTF-8 text, or nil when the bytes are not valid UTF-8 (decoding replaces bad bytes, so a
/// round trip tells).
func utf8String(_ bytes: [UInt8]) -> String? {
    let text = String(decoding: bytes, as: UTF8.self)
    return text.utf8.elementsEqual(bytes) ? text : nil
}

extension Array {
    fileprivate subscript(safe index: Int) -> Element? { indices.contains(index) ? self[index] : nil }
}

extension RegularFile {
    /// Fills `buffer` (its whole length) from `offset`.
    func read(into buffer: inout [UInt8], at offset: Int) throws(BirderIOError) {
        let count = buffer.count
        guard count > 0 else { return }
        let result: Result<Void, BirderIOError> = buffer.withUnsafeMutableBytes { raw in
            Result { () throws(BirderIOError) in try read(into: raw.baseAddress!, count: count, at: offset) }
        }
        try result.get()
    }
}
