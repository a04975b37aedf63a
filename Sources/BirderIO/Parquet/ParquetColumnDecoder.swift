/// Decodes one column chunk of a Parquet file: its pages (dictionary, data v1 and v2), their
/// repetition and definition levels (RLE / bit-packed hybrid) and values (PLAIN or dictionary
/// indices). Only what Birder's files hold is supported — BYTE_ARRAY, INT32, INT64 and FLOAT
/// columns; anything else is refused by name, never guessed at.
///
/// Every count is checked before it is allocated: a page cannot claim more values than its
/// column chunk, a chunk more than `ParquetColumnDecoder.maxValues`, and every length is checked
/// against the bytes present.
struct ParquetColumnDecoder {
    /// Values of one column chunk (nulls are absent: the levels say where they were).
    enum Values {
        case byteArrays([[UInt8]])
        case int64([Int64])
        case float([Float])

        var count: Int {
            switch self {
            case .byteArrays(let v): return v.count
            case .int64(let v): return v.count
            case .float(let v): return v.count
            }
        }
    }

    struct Decoded {
        /// One per value slot (nil when the column's maximum level is 0: all zero).
        var repetitionLevels: [UInt8]?
        var definitionLevels: [UInt8]?
        var values: Values
        var slotCount: Int
    }

    struct Failure: Error {
        let reason: String
    }

    /// Values (levels included) a single column chunk may hold: a quarter of a billion, a GiB of
    /// floats. A larger row group is refused rather than read.
    static let maxValues = 1 << 28
    /// Strings cost far more per value than floats (each is an array of its own): a string column
    /// chunk (the sample names) may hold 16 million, plenty for one row group.
    static let maxStrings = 1 << 24

    let chunk: ParquetColumnChunk
    let maxDefinitionLevel: Int
    let maxRepetitionLevel: Int

    /// Decodes the chunk from its bytes (`bytes` starts at the chunk's first page).
    func decode(_ bytes: UnsafeRawBufferPointer) throws(Failure) -> Decoded {
        let expected = Int(chunk.numValues)
        let limit = chunk.type == .byteArray ? Self.maxStrings : Self.maxValues
        guard expected <= limit else {
            throw Failure(reason: "column \(columnName) holds \(expected) values in one row group; at most \(limit) are read (write smaller row groups)")
        }
        var dictionary: Values?
        var repetition: [UInt8] = [], definition: [UInt8] = []
        var values = emptyValues()
        var slots = 0
        var position = 0
        while slots < expected {
            guard position < bytes.count else {
                throw Failure(reason: "column \(columnName): the chunk ends after \(slots) of its \(expected) values")
            }
            var thrift = ThriftReader(bytes, at: position)
            let header: ParquetPageHeader
            do { header = try ParquetPageHeader(thrift: try thrift.readStruct()) } catch {
                throw Failure(reason: "column \(columnName): page header at chunk offset \(position): \(error.reason)")
            }
            let bodyStart = thrift.position
            guard header.compressedSize <= bytes.count - bodyStart else {
                throw Failure(reason: "column \(columnName): a page of \(header.compressedSize) bytes runs past its column chunk")
            }
            let body = UnsafeRawBufferPointer(rebasing: bytes[bodyStart..<(bodyStart + header.compressedSize)])
            position = bodyStart + header.compressedSize
            // What decompression allocates is the header's word: capped, so a forged header
            // cannot ask for more than a quarter GiB per page.
            guard header.uncompressedSize <= Self.maxValues else {
                throw Failure(reason: "column \(columnName): a page claims \(header.uncompressedSize) bytes uncompressed")
            }
            switch header.type {
            case .indexPage:
                continue
            case .dictionaryPage:
                guard dictionary == nil else { throw Failure(reason: "column \(columnName): a second dictionary page") }
                guard header.encoding == .plain || header.encoding == .plainDictionary else {
                    throw Failure(reason: "column \(columnName): dictionary page encoded as \(header.encoding)")
                }
                let page = try decompress(body, expected: header.uncompressedSize)
                dictionary = try withBytes(page) { (raw) throws(Failure) in
                    var reader = ByteReader(raw)
                    return try plainValues(&reader, count: header.numValues)
                }
            case .dataPage, .dataPageV2:
                guard header.numValues <= expected - slots else {
                    throw Failure(reason: "column \(columnName): pages hold more values than the chunk's \(expected)")
                }
                let page = try dataPage(header, body: body)
                try withBytes(page) { (raw) throws(Failure) in
                    var reader = ByteReader(raw)
                    let pageRepetition: [UInt8]?, pageDefinition: [UInt8]?
                    if header.type == .dataPage {
                        pageRepetition = try levels(&reader, count: header.numValues, maxLevel: maxRepetitionLevel, lengthPrefixed: true)
                        pageDefinition = try levels(&reader, count: header.numValues, maxLevel: maxDefinitionLevel, lengthPrefixed: true)
                    } else {
                        pageRepetition = try levels(&reader, count: header.numValues, maxLevel: maxRepetitionLevel,
                                                    byteLength: header.repetitionLevelsLength)
                        pageDefinition = try levels(&reader, count: header.numValues, maxLevel: maxDefinitionLevel,
                                                    byteLength: header.definitionLevelsLength)
                    }
                    let present = pageDefinition.map { levels in levels.reduce(0) { $0 + (Int($1) == maxDefinitionLevel ? 1 : 0) } } ?? header.numValues
                    let pageValues: Values
                    switch header.encoding {
                    case .plain:
                        pageValues = try plainValues(&reader, count: present)
                    case .rleDictionary, .plainDictionary:
                        guard let dictionary else { throw Failure(reason: "column \(columnName): dictionary-coded page without a dictionary") }
                        pageValues = try dictionaryValues(&reader, count: present, dictionary: dictionary)
                    default:
                        throw Failure(reason: "column \(columnName): \(header.encoding) encoding is not supported (PLAIN and dictionary are)")
                    }
                    if let pageRepetition { repetition += pageRepetition }
                    if let pageDefinition { definition += pageDefinition }
                    append(pageValues, to: &values)
                }
                slots += header.numValues
            }
        }
        return Decoded(repetitionLevels: maxRepetitionLevel > 0 ? repetition : nil,
                       definitionLevels: maxDefinitionLevel > 0 ? definition : nil,
                       values: values, slotCount: slots)
    }

    private var columnName: String { chunk.path.joined(separator: ".") }

    private func decompress(_ body: UnsafeRawBufferPointer, expected: Int) throws(Failure) -> [UInt8] {
        do { return try PageCompression.decompress(body, codec: chunk.codec, expectedSize: expected) } catch {
            throw Failure(reason: "column \(columnName): \(error.reason)")
        }
    }

    /// A data page's bytes with its values decompressed (a v2 page keeps its levels uncompressed
    /// in front of them).
    private func dataPage(_ header: ParquetPageHeader, body: UnsafeRawBufferPointer) throws(Failure) -> [UInt8] {
        guard header.type == .dataPageV2 else { return try decompress(body, expected: header.uncompressedSize) }
        let levelBytes = header.repetitionLevelsLength + header.definitionLevelsLength
        guard levelBytes <= body.count, levelBytes <= header.uncompressedSize else {
            throw Failure(reason: "column \(columnName): level lengths exceed the page")
        }
        let levels = Array(UnsafeRawBufferPointer(rebasing: body[0..<levelBytes]))
        let rest = UnsafeRawBufferPointer(rebasing: body[levelBytes...])
        let valuesSize = header.uncompressedSize - levelBytes
        if !header.valuesCompressed || chunk.codec == .uncompressed {
            guard rest.count == valuesSize else { throw Failure(reason: "column \(columnName): page sizes disagree") }
            return levels + Array(rest)
        }
        // zstd and snappy pages of no values may be empty rather than a compressed empty stream.
        if valuesSize == 0 && rest.isEmpty { return levels }
        return levels + (try decompress(rest, expected: valuesSize))
    }

    private func emptyValues() -> Values {
        switch chunk.type {
        case .byteArray: return .byteArrays([])
        case .float: return .float([])
        default: return .int64([])
        }
    }

    private func append(_ page: Values, to all: inout Values) {
        switch (all, page) {
        case (.byteArrays(var a), .byteArrays(let b)): a += b; all = .byteArrays(a)
        case (.int64(var a), .int64(let b)): a += b; all = .int64(a)
        case (.float(var a), .float(let b)): a += b; all = .float(a)
        default: break
        }
    }

    private func plainValues(_ reader: inout ByteReader, count: Int) throws(Failure) -> Values {
        let truncated = Failure(reason: "column \(columnName): \(count) values run past the end of their page")
        switch chunk.type {
        case .byteArray:
            // Each value has at least its 4-byte length.
            guard count <= reader.remaining / 4 else { throw truncated }
            var out: [[UInt8]] = []
            out.reserveCapacity(count)
            do {
                for _ in 0..<count {
                    let length = Int(try reader.u32())
                    out.append(Array(try reader.slice(length)))
                }
            } catch { throw truncated }
            return .byteArrays(out)
        case .int64:
            guard count <= reader.remaining / 8 else { throw truncated }
            var out = [Int64](repeating: 0, count: count)
            do { for i in 0..<count { out[i] = Int64(bitPattern: try reader.u64()) } } catch { throw truncated }
            return .int64(out)
        case .int32:
            guard count <= reader.remaining / 4 else { throw truncated }
            var out = [Int64](repeating: 0, count: count)
            do { for i in 0..<count { out[i] = Int64(try reader.i32()) } } catch { throw truncated }
            return .int64(out)
        case .float:
            guard count <= reader.remaining / 4 else { throw truncated }
            var out = [Float](repeating: 0, count: count)
            do { for i in 0..<count { out[i] = Float(bitPattern: try reader.u32()) } } catch { throw truncated }
            return .float(out)
        default:
            throw Failure(reason: "column \(columnName): physical type \(chunk.type) is not supported")
        }
    }

    private func dictionaryValues(_ reader: inout ByteReader, count: Int, dictionary: Values) throws(Failure) -> Values {
        let width: Int
        do { width = Int(try reader.u8()) } catch { throw Failure(reason: "column \(columnName): dictionary page without its bit width") }
        guard width <= 32 else { throw Failure(reason: "column \(columnName): dictionary index width \(width) bits") }
        let indices = try hybrid(&reader, count: count, bitWidth: width)
        let size = dictionary.count
        if let bad = indices.first(where: { Int($0) >= size }) {
            throw Failure(reason: "column \(columnName): dictionary index \(bad) out of range (\(size) entries)")
        }
        switch dictionary {
        case .byteArrays(let d): return .byteArrays(indices.map { d[Int($0)] })
        case .int64(let d): return .int64(indices.map { d[Int($0)] })
        case .float(let d): return .float(indices.map { d[Int($0)] })
        }
    }

    /// Levels of a v1 page (a 4-byte length, then the hybrid encoding); nil when `maxLevel` is 0.
    private func levels(_ reader: inout ByteReader, count: Int, maxLevel: Int, lengthPrefixed: Bool) throws(Failure) -> [UInt8]? {
        guard maxLevel > 0 else { return nil }
        let length: Int
        do { length = Int(try reader.u32()) } catch { throw Failure(reason: "column \(columnName): levels run past the page") }
        return try levels(&reader, count: count, maxLevel: maxLevel, byteLength: length)
    }

    /// Levels stored in exactly `byteLength` bytes.
    private func levels(_ reader: inout ByteReader, count: Int, maxLevel: Int, byteLength: Int) throws(Failure) -> [UInt8]? {
        guard maxLevel > 0 else { return nil }
        let slice: UnsafeRawBufferPointer
        do { slice = try reader.slice(byteLength) } catch { throw Failure(reason: "column \(columnName): levels run past the page") }
        var levelReader = ByteReader(slice)
        let width = Int.bitWidth - maxLevel.leadingZeroBitCount
        let decoded = try hybrid(&levelReader, count: count, bitWidth: width)
        var out = [UInt8](repeating: 0, count: count)
        for i in 0..<count {
            guard decoded[i] <= UInt32(maxLevel) else { throw Failure(reason: "column \(columnName): level \(decoded[i]) above the maximum \(maxLevel)") }
            out[i] = UInt8(decoded[i])
        }
        return out
    }

    /// Parquet's RLE / bit-packed hybrid: runs of one repeated value and groups of 8 packed values.
    private func hybrid(_ reader: inout ByteReader, count: Int, bitWidth: Int) throws(Failure) -> [UInt32] {
        var out = [UInt32](repeating: 0, count: count)
        guard count > 0 else { return out }
        guard bitWidth > 0 else { return out }
        let truncated = Failure(reason: "column \(columnName): run-length data ends after fewer values than the page holds")
        var filled = 0
        let valueBytes = (bitWidth + 7) / 8
        do {
            while filled < count {
                var header: UInt64 = 0, shift: UInt64 = 0
                while true {
                    let b = try reader.u8()
                    guard shift < 64 else { throw Failure(reason: "column \(columnName): bad run header") }
                    header |= UInt64(b & 0x7F) << shift
                    if b & 0x80 == 0 { break }
                    shift += 7
                }
                if header & 1 == 1 {
                    let groups = header >> 1
                    guard groups <= UInt64(reader.remaining) else { throw truncated }
                    let bytes = try reader.slice(Int(groups) * bitWidth)
                    let values = Int(groups) * 8
                    var bit = 0
                    for _ in 0..<values {
                        var v: UInt32 = 0
                        for b in 0..<bitWidth {
                            let index = bit + b
                            if bytes[index >> 3] & (1 << (index & 7)) != 0 { v |= 1 << b }
                        }
                        bit += bitWidth
                        // The last group is padded with values past the count.
                        if filled < count { out[filled] = v; filled += 1 }
                    }
                } else {
                    let run = header >> 1
                    var v: UInt32 = 0
                    for i in 0..<valueBytes { v |= UInt32(try reader.u8()) << (8 * i) }
                    guard bitWidth == 32 || v < (1 << bitWidth) else { throw Failure(reason: "column \(columnName): run value wider than \(bitWidth) bits") }
                    guard run <= UInt64(count - filled) else { throw Failure(reason: "column \(columnName): a run of \(run) values overflows the page's \(count)") }
                    for i in 0..<Int(run) { out[filled + i] = v }
                    filled += Int(run)
                    if run == 0 && reader.atEnd { throw truncated }
                }
            }
        } catch let failure as Failure {
            throw failure
        } catch {
            throw truncated
        }
        return out
    }
}
