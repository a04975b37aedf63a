/// The parts of Parquet's file metadata (parquet.thrift `FileMetaData`, `PageHeader`) that reading
/// and writing Birder's files need, decoded from and encoded to Thrift's compact protocol. Field
/// ids are Parquet's; fields not listed here are skipped when read and never written.

enum ParquetPhysicalType: Int32 {
    case boolean = 0, int32 = 1, int64 = 2, int96 = 3, float = 4, double = 5, byteArray = 6, fixedLenByteArray = 7
}

enum ParquetRepetition: Int32 {
    case required = 0, optional = 1, repeated = 2
}

enum ParquetCodec: Int32 {
    case uncompressed = 0, snappy = 1, gzip = 2, lzo = 3, brotli = 4, lz4 = 5, zstd = 6, lz4Raw = 7

    var name: String {
        switch self {
        case .uncompressed: return "uncompressed"
        case .snappy: return "snappy"
        case .gzip: return "gzip"
        case .lzo: return "lzo"
        case .brotli: return "brotli"
        case .lz4: return "lz4"
        case .zstd: return "zstd"
        case .lz4Raw: return "lz4_raw"
        }
    }
}

enum ParquetEncoding: Int32 {
    case plain = 0, plainDictionary = 2, rle = 3, bitPacked = 4, deltaBinaryPacked = 5
    case deltaLengthByteArray = 6, deltaByteArray = 7, rleDictionary = 8, byteStreamSplit = 9
}

enum ParquetPageType: Int32 {
    case dataPage = 0, indexPage = 1, dictionaryPage = 2, dataPageV2 = 3
}

struct ParquetSchemaElement: Equatable {
    var name: String
    var type: ParquetPhysicalType?
    var repetition: ParquetRepetition?
    var numChildren: Int = 0
    /// ConvertedType: UTF8 = 0, LIST = 3.
    var convertedType: Int32?
    /// LogicalType union member id: STRING = 1, LIST = 3.
    var logicalType: Int16?
}

struct ParquetColumnChunk: Equatable {
    var type: ParquetPhysicalType
    var encodings: [ParquetEncoding]
    var path: [String]
    var codec: ParquetCodec
    var numValues: Int64
    var totalUncompressedSize: Int64
    var totalCompressedSize: Int64
    var dataPageOffset: Int64
    var dictionaryPageOffset: Int64?

    /// Where the chunk's first page starts.
    var start: Int64 { dictionaryPageOffset.map { min($0, dataPageOffset) } ?? dataPageOffset }
}

struct ParquetRowGroup: Equatable {
    var columns: [ParquetColumnChunk]
    var totalByteSize: Int64
    var numRows: Int64
}

struct ParquetFileMetadata: Equatable {
    var version: Int32 = 2
    var schema: [ParquetSchemaElement]
    var numRows: Int64
    var rowGroups: [ParquetRowGroup]
    var keyValues: [(key: String, value: String?)] = []
    var createdBy: String?

    static func == (lhs: ParquetFileMetadata, rhs: ParquetFileMetadata) -> Bool {
        lhs.version == rhs.version && lhs.schema == rhs.schema && lhs.numRows == rhs.numRows
            && lhs.rowGroups == rhs.rowGroups && lhs.createdBy == rhs.createdBy
            && lhs.keyValues.count == rhs.keyValues.count
            && zip(lhs.keyValues, rhs.keyValues).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    }
}

struct ParquetPageHeader: Equatable {
    var type: ParquetPageType
    var uncompressedSize: Int
    var compressedSize: Int
    /// Values in the page (levels included: nulls count) and their encoding.
    var numValues: Int
    var encoding: ParquetEncoding
    /// Data page v2: level bytes (never compressed) before the values.
    var definitionLevelsLength = 0
    var repetitionLevelsLength = 0
    var valuesCompressed = true
    /// Data page v2: rows in the page.
    var numRows: Int?
}

/// Decoding: a field that is missing, of the wrong type or out of range is an error naming it.
extension ParquetFileMetadata {
    init(thrift root: ThriftStruct) throws(ThriftError) {
        let decoder = FieldDecoder(structure: root, name: "FileMetaData")
        version = try decoder.int32(1)
        schema = try decoder.structs(2).map { (element) throws(ThriftError) -> ParquetSchemaElement in
            let d = FieldDecoder(structure: element, name: "SchemaElement")
            let type = try d.optionalInt32(1)
            let repetition = try d.optionalInt32(3)
            var logical: Int16?
            if let union = try d.optionalStruct(10) { logical = union.fields.keys.first }
            return ParquetSchemaElement(
                name: try d.string(4),
                type: try type.map { (raw) throws(ThriftError) in try enumValue(raw, "SchemaElement.type") },
                repetition: try repetition.map { (raw) throws(ThriftError) in try enumValue(raw, "SchemaElement.repetition_type") },
                numChildren: Int(try d.optionalInt32(5) ?? 0),
                convertedType: try d.optionalInt32(6),
                logicalType: logical)
        }
        numRows = try decoder.int64(3)
        rowGroups = try decoder.structs(4).map { (group) throws(ThriftError) -> ParquetRowGroup in
            let d = FieldDecoder(structure: group, name: "RowGroup")
            let columns = try d.structs(1).map { (chunk) throws(ThriftError) -> ParquetColumnChunk in
                let c = FieldDecoder(structure: chunk, name: "ColumnChunk")
                if case .binary? = chunk[1] {
                    throw ThriftError(reason: "a column chunk stored in another file (ColumnChunk.file_path) is not supported")
                }
                guard let meta = try c.optionalStruct(3) else { throw ThriftError(reason: "ColumnChunk.meta_data missing") }
                let m = FieldDecoder(structure: meta, name: "ColumnMetaData")
                let encodings = try m.int32List(2).compactMap { ParquetEncoding(rawValue: $0) }
                return ParquetColumnChunk(
                    type: try enumValue(try m.int32(1), "ColumnMetaData.type"),
                    encodings: encodings,
                    path: try m.stringList(3),
                    codec: try enumValue(try m.int32(4), "ColumnMetaData.codec"),
                    numValues: try m.nonNegativeInt64(5),
                    totalUncompressedSize: try m.nonNegativeInt64(6),
                    totalCompressedSize: try m.nonNegativeInt64(7),
                    dataPageOffset: try m.nonNegativeInt64(9),
                    dictionaryPageOffset: try m.optionalInt64(11))
            }
            return ParquetRowGroup(columns: columns, totalByteSize: try d.int64(2), numRows: try d.nonNegativeInt64(3))
        }
        if root[5] != nil {
            keyValues = try decoder.structs(5).map { (pair) throws(ThriftError) -> (key: String, value: String?) in
                let d = FieldDecoder(structure: pair, name: "KeyValue")
                return (try d.string(1), pair[2] == nil ? nil : try d.string(2))
            }
        }
        createdBy = root[6] == nil ? nil : try decoder.string(6)
    }

    /// The footer's Thrift bytes.
    func encoded() -> [UInt8] {
        var w = ThriftWriter()
        w.i32(1, version)
        w.list(2, of: .structure, count: schema.count) { w in
            for element in schema {
                w.beginListStruct()
                if let type = element.type { w.i32(1, type.rawValue) }
                if let repetition = element.repetition { w.i32(3, repetition.rawValue) }
                w.string(4, element.name)
                if element.numChildren > 0 { w.i32(5, Int32(element.numChildren)) }
                if let converted = element.convertedType { w.i32(6, converted) }
                if let logical = element.logicalType {
                    w.beginStruct(10)
                    w.beginStruct(logical)
                    w.endStruct()
                    w.endStruct()
                }
                w.endStruct()
            }
        }
        w.i64(3, numRows)
        w.list(4, of: .structure, count: rowGroups.count) { w in
            for group in rowGroups {
                w.beginListStruct()
                w.list(1, of: .structure, count: group.columns.count) { w in
                    for column in group.columns {
                        w.beginListStruct()
                        w.i64(2, column.start)
                        w.beginStruct(3)
                        w.i32(1, column.type.rawValue)
                        w.list(2, of: .i32, count: column.encodings.count) { w in
                            for encoding in column.encodings { w.listI32(encoding.rawValue) }
                        }
                        w.list(3, of: .binary, count: column.path.count) { w in
                            for part in column.path { w.listString(part) }
                        }
                        w.i32(4, column.codec.rawValue)
                        w.i64(5, column.numValues)
                        w.i64(6, column.totalUncompressedSize)
                        w.i64(7, column.totalCompressedSize)
                        w.i64(9, column.dataPageOffset)
                        if let dictionary = column.dictionaryPageOffset { w.i64(11, dictionary) }
                        w.endStruct()
                        w.endStruct()
                    }
                }
                w.i64(2, group.totalByteSize)
                w.i64(3, group.numRows)
                if let first = group.columns.first {
                    w.i64(5, first.start)
                    w.i64(6, group.columns.reduce(0) { $0 + $1.totalCompressedSize })
                }
                w.endStruct()
            }
        }
        if !keyValues.isEmpty {
            w.list(5, of: .structure, count: keyValues.count) { w in
                for pair in keyValues {
                    w.beginListStruct()
                    w.string(1, pair.key)
                    if let value = pair.value { w.string(2, value) }
                    w.endStruct()
                }
            }
        }
        if let createdBy { w.string(6, createdBy) }
        return w.finish()
    }
}

extension ParquetPageHeader {
    init(thrift root: ThriftStruct) throws(ThriftError) {
        let d = FieldDecoder(structure: root, name: "PageHeader")
        type = try enumValue(try d.int32(1), "PageHeader.type")
        uncompressedSize = Int(try d.nonNegativeInt32(2))
        compressedSize = Int(try d.nonNegativeInt32(3))
        switch type {
        case .dataPage:
            guard let header = try d.optionalStruct(5) else { throw ThriftError(reason: "PageHeader.data_page_header missing") }
            let h = FieldDecoder(structure: header, name: "DataPageHeader")
            numValues = Int(try h.nonNegativeInt32(1))
            encoding = try enumValue(try h.int32(2), "DataPageHeader.encoding")
        case .dictionaryPage:
            guard let header = try d.optionalStruct(7) else { throw ThriftError(reason: "PageHeader.dictionary_page_header missing") }
            let h = FieldDecoder(structure: header, name: "DictionaryPageHeader")
            numValues = Int(try h.nonNegativeInt32(1))
            encoding = try enumValue(try h.int32(2), "DictionaryPageHeader.encoding")
        case .dataPageV2:
            guard let header = try d.optionalStruct(8) else { throw ThriftError(reason: "PageHeader.data_page_header_v2 missing") }
            let h = FieldDecoder(structure: header, name: "DataPageHeaderV2")
            numValues = Int(try h.nonNegativeInt32(1))
            numRows = Int(try h.nonNegativeInt32(3))
            encoding = try enumValue(try h.int32(4), "DataPageHeaderV2.encoding")
            definitionLevelsLength = Int(try h.nonNegativeInt32(5))
            repetitionLevelsLength = Int(try h.nonNegativeInt32(6))
            if case .bool(let compressed)? = header[7] { valuesCompressed = compressed }
        case .indexPage:
            numValues = 0
            encoding = .plain
        }
    }

    /// A v1 data page header (the only kind this project writes).
    func encoded() -> [UInt8] {
        var w = ThriftWriter()
        w.i32(1, type.rawValue)
        w.i32(2, Int32(uncompressedSize))
        w.i32(3, Int32(compressedSize))
        w.beginStruct(5)
        w.i32(1, Int32(numValues))
        w.i32(2, encoding.rawValue)
        w.i32(3, ParquetEncoding.rle.rawValue)
        w.i32(4, ParquetEncoding.rle.rawValue)
        w.endStruct()
        return w.finish()
    }
}

private func enumValue<E: RawRepresentable>(_ raw: Int32, _ field: String) throws(ThriftError) -> E where E.RawValue == Int32 {
    guard let value = E(rawValue: raw) else { throw ThriftError(reason: "\(field) has an unknown value \(raw)") }
    return value
}

/// Typed access to a struct's fields, naming the field in every error.
private struct FieldDecoder {
    let structure: ThriftStruct
    let name: String

    func int64(_ id: Int16) throws(ThriftError) -> Int64 {
        guard case .int(let v)? = structure[id] else { throw missing(id, "an integer") }
        return v
    }

    func optionalInt64(_ id: Int16) throws(ThriftError) -> Int64? {
        guard structure[id] != nil else { return nil }
        return try int64(id)
    }

    func nonNegativeInt64(_ id: Int16) throws(ThriftError) -> Int64 {
        let v = try int64(id)
        guard v >= 0 else { throw ThriftError(reason: "\(name) field \(id) is negative (\(v))") }
        return v
    }

    func int32(_ id: Int16) throws(ThriftError) -> Int32 {
        let v = try int64(id)
        guard let small = Int32(exactly: v) else { throw ThriftError(reason: "\(name) field \(id) out of range (\(v))") }
        return small
    }

    func nonNegativeInt32(_ id: Int16) throws(ThriftError) -> Int32 {
        let v = try int32(id)
        guard v >= 0 else { throw ThriftError(reason: "\(name) field \(id) is negative (\(v))") }
        return v
    }

    func optionalInt32(_ id: Int16) throws(ThriftError) -> Int32? {
        guard structure[id] != nil else { return nil }
        return try int32(id)
    }

    func string(_ id: Int16) throws(ThriftError) -> String {
        guard case .binary(let bytes)? = structure[id] else { throw missing(id, "a string") }
        guard let text = utf8String(bytes) else { throw ThriftError(reason: "\(name) field \(id) is not UTF-8") }
        return text
    }

    func optionalStruct(_ id: Int16) throws(ThriftError) -> ThriftStruct? {
        guard let value = structure[id] else { return nil }
        guard case .structure(let s) = value else { throw missing(id, "a struct") }
        return s
    }

    func structs(_ id: Int16) throws(ThriftError) -> [ThriftStruct] {
        guard case .list(let items)? = structure[id] else { throw missing(id, "a list") }
        return try items.map { (item) throws(ThriftError) -> ThriftStruct in
            guard case .structure(let s) = item else { throw ThriftError(reason: "\(name) field \(id) holds something other than structs") }
            return s
        }
    }

    func int32List(_ id: Int16) throws(ThriftError) -> [Int32] {
        guard case .list(let items)? = structure[id] else { throw missing(id, "a list") }
        return try items.map { (item) throws(ThriftError) -> Int32 in
            guard case .int(let v) = item, let small = Int32(exactly: v) else { throw ThriftError(reason: "\(name) field \(id) holds a non-integer") }
            return small
        }
    }

    func stringList(_ id: Int16) throws(ThriftError) -> [String] {
        guard case .list(let items)? = structure[id] else { throw missing(id, "a list") }
        return try items.map { (item) throws(ThriftError) -> String in
            guard case .binary(let bytes) = item, let text = utf8String(bytes) else {
                throw ThriftError(reason: "\(name) field \(id) holds a non-string")
            }
            return text
        }
    }

    private func missing(_ id: Int16, _ what: String) -> ThriftError {
        ThriftError(reason: "\(name) field \(id) missing or not \(what)")
    }
}
