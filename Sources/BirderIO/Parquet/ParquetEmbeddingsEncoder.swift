/// Encodes Birder's Parquet embeddings — the schema Birder's `predict --output-format parquet`
/// writes: `sample: string`, optional `label: int64`, `embedding: fixed_size_list<float32>[D]`,
/// with the Arrow schema in the footer as pyarrow keeps it — as an append-only byte stream.
///
/// The encoder does no I/O: `append` returns the bytes of every row group it completed (a group
/// is `rowGroupRows` rows; no more rows than one group are ever held) and `finish` the last
/// group and the footer. So a streaming writer writes what it is given, and can record
/// `byteCount` after each call as a resumption point: `init(resuming:length:…)` rebuilds the
/// encoder from a file cut back to such a length (it reads only the page headers) and carries on;
/// the finished file is then byte-identical to an uninterrupted one.
///
/// Pages are PLAIN and uncompressed, one data page per column chunk: float embeddings barely
/// compress, and every reader (Birder via polars, pyarrow) reads it.
package struct ParquetEmbeddingsEncoder {
    package let dimension: Int
    package let withLabels: Bool
    package let rowGroupRows: Int
    /// Bytes handed out so far.
    package private(set) var byteCount = 0
    /// Rows in the row groups handed out so far (rows still pending are not counted).
    package private(set) var rowsWritten = 0
    /// Rows accepted but not yet handed out as a row group.
    package var pendingRows: Int { pendingSamples.count }

    private var rowGroups: [ParquetRowGroup] = []
    private var pendingSamples: [String] = []
    private var pendingLabels: [Int64] = []
    private var pendingValues: [Float] = []
    private var finished = false

    static let magic = Array("PAR1".utf8)
    package static let createdBy = "birder-swift (Birder's embeddings schema, parquet-format 2)"

    package init(dimension: Int, withLabels: Bool, rowGroupRows: Int = 4096) {
        precondition(dimension > 0 && rowGroupRows > 0)
        self.dimension = dimension
        self.withLabels = withLabels
        self.rowGroupRows = rowGroupRows
    }

    /// Accepts rows (`embeddings` row-major, `samples.count × dimension`; `labels` one per row
    /// when the file has labels, Birder's -1 where unknown) and returns the bytes of the row
    /// groups they completed, which may be none.
    package mutating func append(samples: [String], labels: [Int64]? = nil, embeddings: [Float]) -> [UInt8] {
        precondition(!finished, "append after finish")
        precondition(embeddings.count == samples.count * dimension, "one embedding of \(dimension) values per sample")
        precondition(withLabels == (labels != nil) && (labels?.count ?? samples.count) == samples.count, "labels for every row, or none")
        var out = header()
        var next = 0
        while next < samples.count {
            let take = min(rowGroupRows - pendingSamples.count, samples.count - next)
            pendingSamples += samples[next..<(next + take)]
            if let labels { pendingLabels += labels[next..<(next + take)] }
            pendingValues += embeddings[(next * dimension)..<((next + take) * dimension)]
            next += take
            if pendingSamples.count == rowGroupRows { out += flush() }
        }
        byteCount += out.count
        return out
    }

    /// The pending rows as a row group and the footer; the encoder takes no more rows after.
    package mutating func finish() -> [UInt8] {
        precondition(!finished, "finish twice")
        var out = header()
        if !pendingSamples.isEmpty { out += flush() }
        let footer = metadata.encoded()
        out += footer
        withUnsafeBytes(of: UInt32(footer.count).littleEndian) { out.append(contentsOf: $0) }
        out += Self.magic
        finished = true
        byteCount += out.count
        return out
    }

    /// The footer this encoder would write now (tests; `finish` writes it).
    var metadata: ParquetFileMetadata {
        ParquetFileMetadata(
            version: 2, schema: Self.schema(withLabels: withLabels), numRows: Int64(rowsWritten), rowGroups: rowGroups,
            keyValues: [("ARROW:schema", ArrowSchemaMessage.base64(Self.arrowFields(dimension: dimension, withLabels: withLabels)))],
            createdBy: Self.createdBy)
    }

    private func header() -> [UInt8] { byteCount == 0 ? Self.magic : [] }

    /// Encodes the pending rows as one row group, at `byteCount` plus what precedes it in this call.
    private mutating func flush() -> [UInt8] {
        let rows = pendingSamples.count
        var out: [UInt8] = []
        // Where this group starts in the file: everything handed out, plus the magic if it is
        // about to be, plus groups already encoded in this call (they are in `rowGroups`).
        var offset = byteCount == 0 ? Self.magic.count : byteCount
        if let last = rowGroups.last?.columns.last { offset = max(offset, Int(last.dataPageOffset + last.totalCompressedSize)) }
        var chunks: [ParquetColumnChunk] = []

        func add(_ path: [String], _ type: ParquetPhysicalType, slots: Int, page: [UInt8]) {
            let header = ParquetPageHeader(type: .dataPage, uncompressedSize: page.count, compressedSize: page.count,
                                           numValues: slots, encoding: .plain).encoded()
            let size = Int64(header.count + page.count)
            chunks.append(ParquetColumnChunk(type: type, encodings: [.plain, .rle], path: path, codec: .uncompressed,
                                             numValues: Int64(slots), totalUncompressedSize: size, totalCompressedSize: size,
                                             dataPageOffset: Int64(offset), dictionaryPageOffset: nil))
            out += header
            out += page
            offset += Int(size)
        }

        var page = LevelEncoder.lengthPrefixed(LevelEncoder.runs([(1, rows)], bitWidth: 1))
        for sample in pendingSamples {
            let utf8 = Array(sample.utf8)
            withUnsafeBytes(of: UInt32(utf8.count).littleEndian) { page.append(contentsOf: $0) }
            page += utf8
        }
        add(["sample"], .byteArray, slots: rows, page: page)

        if withLabels {
            page = LevelEncoder.lengthPrefixed(LevelEncoder.runs([(1, rows)], bitWidth: 1))
            for label in pendingLabels { withUnsafeBytes(of: label.littleEndian) { page.append(contentsOf: $0) } }
            add(["label"], .int64, slots: rows, page: page)
        }

        // Repetition: 0 starts each row, 1 continues it; definition: 3 (list, entry, value present).
        var repetition: [(UInt32, Int)] = []
        for _ in 0..<rows {
            repetition.append((0, 1))
            if dimension > 1 { repetition.append((1, dimension - 1)) }
        }
        page = LevelEncoder.lengthPrefixed(LevelEncoder.runs(repetition, bitWidth: 1))
        page += LevelEncoder.lengthPrefixed(LevelEncoder.runs([(3, rows * dimension)], bitWidth: 2))
        page.reserveCapacity(page.count + 4 * pendingValues.count)
        for value in pendingValues { withUnsafeBytes(of: value.bitPattern.littleEndian) { page.append(contentsOf: $0) } }
        add(["embedding", "list", "element"], .float, slots: rows * dimension, page: page)

        rowGroups.append(ParquetRowGroup(columns: chunks, totalByteSize: chunks.reduce(0) { $0 + $1.totalUncompressedSize },
                                         numRows: Int64(rows)))
        rowsWritten += rows
        pendingSamples.removeAll(keepingCapacity: true)
        pendingLabels.removeAll(keepingCapacity: true)
        pendingValues.removeAll(keepingCapacity: true)
        return out
    }

    static func schema(withLabels: Bool) -> [ParquetSchemaElement] {
        var schema = [ParquetSchemaElement(name: "schema", numChildren: withLabels ? 3 : 2),
                      ParquetSchemaElement(name: "sample", type: .byteArray, repetition: .optional, convertedType: 0, logicalType: 1)]
        if withLabels { schema.append(ParquetSchemaElement(name: "label", type: .int64, repetition: .optional)) }
        schema += [
            ParquetSchemaElement(name: "embedding", repetition: .optional, numChildren: 1, convertedType: 3, logicalType: 3),
            ParquetSchemaElement(name: "list", repetition: .repeated, numChildren: 1),
            ParquetSchemaElement(name: "element", type: .float, repetition: .optional),
        ]
        return schema
    }

    static func arrowFields(dimension: Int, withLabels: Bool) -> [ArrowSchemaMessage.ArrowField] {
        var fields = [ArrowSchemaMessage.ArrowField(name: "sample", type: .utf8)]
        if withLabels { fields.append(.init(name: "label", type: .int(bitWidth: 64, signed: true))) }
        fields.append(.init(name: "embedding", type: .fixedSizeList(size: Int32(dimension), item: .init(name: "item", type: .float32))))
        return fields
    }
}

extension ParquetEmbeddingsEncoder {
    /// An encoder continuing a file this encoder wrote, cut back to `length` bytes (a `byteCount`
    /// recorded after an `append`): the row groups in it are found from their page headers, so
    /// nothing but the length needs to be journaled. A length that is not at the end of a row
    /// group, or pages that are not this encoder's, are refused.
    package init(resuming path: String, length: Int, dimension: Int, withLabels: Bool, rowGroupRows: Int = 4096) throws(BirderIOError) {
        self.init(dimension: dimension, withLabels: withLabels, rowGroupRows: rowGroupRows)
        func fail(_ reason: String) -> BirderIOError {
            .invalidContent(path: path, reason: "cannot resume at byte \(length): \(reason)")
        }
        let file = try RegularFile(path: path)
        defer { file.close() }
        guard length <= file.size else { throw fail("the file has only \(file.size) bytes") }
        if length == 0 { return }
        var magic = [UInt8](repeating: 0, count: 4)
        guard length >= 4 else { throw fail("not at the end of a row group") }
        try file.read(into: &magic, at: 0)
        guard magic == Self.magic else { throw fail("it does not start with PAR1") }
        let expected = Self.schema(withLabels: withLabels).filter { $0.type != nil }
        var offset = 4
        while offset < length {
            var chunks: [ParquetColumnChunk] = []
            for column in expected {
                let window = min(256, length - offset)
                var bytes = [UInt8](repeating: 0, count: window)
                try file.read(into: &bytes, at: offset)
                let parsed: (ParquetPageHeader, Int)
                do {
                    parsed = try withBytes(bytes) { (raw) throws(ThriftError) in
                        var reader = ThriftReader(raw)
                        let header = try ParquetPageHeader(thrift: try reader.readStruct())
                        return (header, reader.position)
                    }
                } catch { throw fail("page header at byte \(offset): \(error.reason)") }
                let (header, headerSize) = parsed
                guard header.type == .dataPage, header.encoding == .plain, header.compressedSize == header.uncompressedSize else {
                    throw fail("the page at byte \(offset) was not written by this encoder")
                }
                let size = headerSize + header.compressedSize
                guard size <= length - offset else { throw fail("a row group is cut at byte \(length)") }
                let path = column.name == "element" ? ["embedding", "list", "element"] : [column.name]
                chunks.append(ParquetColumnChunk(type: column.type!, encodings: [.plain, .rle], path: path, codec: .uncompressed,
                                                 numValues: Int64(header.numValues), totalUncompressedSize: Int64(size),
                                                 totalCompressedSize: Int64(size), dataPageOffset: Int64(offset), dictionaryPageOffset: nil))
                offset += size
            }
            let rows = Int(chunks[0].numValues)
            guard chunks.last!.numValues == Int64(rows * dimension), !withLabels || chunks[1].numValues == Int64(rows) else {
                throw fail("a row group's columns disagree (was it written with another dimension or without labels?)")
            }
            rowGroups.append(ParquetRowGroup(columns: chunks, totalByteSize: chunks.reduce(0) { $0 + $1.totalUncompressedSize },
                                             numRows: Int64(rows)))
            rowsWritten += rows
        }
        byteCount = length
    }
}

/// Parquet's RLE / bit-packed hybrid, RLE runs only (levels here are long runs of one value).
enum LevelEncoder {
    /// `(value, count)` runs; neighbouring runs of one value are merged.
    static func runs(_ runs: [(UInt32, Int)], bitWidth: Int) -> [UInt8] {
        var out: [UInt8] = []
        var merged: [(UInt32, Int)] = []
        for run in runs where run.1 > 0 {
            if let last = merged.last, last.0 == run.0 { merged[merged.count - 1].1 += run.1 } else { merged.append(run) }
        }
        let valueBytes = (bitWidth + 7) / 8
        for (value, count) in merged {
            var header = UInt64(count) << 1
            while header >= 0x80 {
                out.append(UInt8(header & 0x7F) | 0x80)
                header >>= 7
            }
            out.append(UInt8(header))
            for i in 0..<valueBytes { out.append(UInt8((value >> (8 * UInt32(i))) & 0xFF)) }
        }
        return out
    }

    /// A v1 data page's levels: a 4-byte length, then the runs.
    static func lengthPrefixed(_ encoded: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        withUnsafeBytes(of: UInt32(encoded.count).littleEndian) { out.append(contentsOf: $0) }
        return out + encoded
    }
}
