import CZstd

/// Decompression of Parquet pages: snappy (pyarrow's default; its format is small enough to decode
/// here, with every length and back-reference checked) and zstd (polars' default, through
/// libzstd). The size a page header promises is what the output must be, exactly; a stream that
/// would produce more or less is refused, so a hostile header cannot make the reader allocate
/// more than the page says and the reader's caller has already bounded.
enum PageCompression {
    struct Failure: Error, Equatable {
        let reason: String
    }

    static func decompress(_ input: UnsafeRawBufferPointer, codec: ParquetCodec, expectedSize: Int) throws(Failure) -> [UInt8] {
        switch codec {
        case .uncompressed:
            guard input.count == expectedSize else {
                throw Failure(reason: "an uncompressed page of \(input.count) bytes where the header says \(expectedSize)")
            }
            return Array(input)
        case .snappy:
            return try snappy(input, expectedSize: expectedSize)
        case .zstd:
            return try zstd(input, expectedSize: expectedSize)
        default:
            throw Failure(reason: "\(codec.name) compression is not supported (snappy, zstd and uncompressed are)")
        }
    }

    /// Snappy's raw format: a varint of the uncompressed length, then literals and copies.
    static func snappy(_ input: UnsafeRawBufferPointer, expectedSize: Int) throws(Failure) -> [UInt8] {
        var position = 0
        func byte() throws(Failure) -> Int {
            guard position < input.count else { throw Failure(reason: "snappy stream ends early") }
            defer { position += 1 }
            return Int(input[position])
        }
        func littleEndian(_ count: Int) throws(Failure) -> Int {
            var value = 0
            for i in 0..<count { value |= try byte() << (8 * i) }
            return value
        }
        var length = 0, shift = 0
        while true {
            let b = try byte()
            guard shift <= 28 else { throw Failure(reason: "snappy length is not a valid varint") }
            length |= (b & 0x7F) << shift
            if b & 0x80 == 0 { break }
            shift += 7
        }
        guard length == expectedSize else {
            throw Failure(reason: "snappy stream of \(length) bytes where the page header says \(expectedSize)")
        }
        var output = [UInt8](repeating: 0, count: length)
        var written = 0
        try output.withUnsafeMutableBufferPointer { (out) throws(Failure) in
            while position < input.count {
                let tag = try byte()
                switch tag & 3 {
                case 0:
                    var count = tag >> 2
                    if count >= 60 { count = try littleEndian(count - 59) }
                    count += 1
                    guard count <= input.count - position else { throw Failure(reason: "snappy literal runs past the input") }
                    guard count <= length - written else { throw Failure(reason: "snappy output longer than announced") }
                    for i in 0..<count { out[written + i] = input[position + i] }
                    position += count
                    written += count
                default:
                    let count: Int, offset: Int
                    switch tag & 3 {
                    case 1:
                        count = ((tag >> 2) & 7) + 4
                        offset = ((tag >> 5) << 8) | (try byte())
                    case 2:
                        count = (tag >> 2) + 1
                        offset = try littleEndian(2)
                    default:
                        count = (tag >> 2) + 1
                        offset = try littleEndian(4)
                    }
                    guard offset > 0, offset <= written else { throw Failure(reason: "snappy copy reaches before the start") }
                    guard count <= length - written else { throw Failure(reason: "snappy output longer than announced") }
                    // Byte by byte: a copy may overlap what it produces (a run).
                    for i in 0..<count { out[written + i] = out[written - offset + i] }
                    written += count
                }
            }
        }
        guard written == length else { throw Failure(reason: "snappy stream gives \(written) of its \(length) bytes") }
        return output
    }

    static func zstd(_ input: UnsafeRawBufferPointer, expectedSize: Int) throws(Failure) -> [UInt8] {
        guard let base = input.baseAddress, !input.isEmpty else { throw Failure(reason: "empty zstd page") }
        let declared = ZSTD_getFrameContentSize(base, input.count)
        if declared == ZSTD_CONTENTSIZE_ERROR { throw Failure(reason: "not a zstd frame") }
        if declared != ZSTD_CONTENTSIZE_UNKNOWN, declared != UInt64(expectedSize) {
            throw Failure(reason: "zstd frame of \(declared) bytes where the page header says \(expectedSize)")
        }
        // One byte more than expected, so a stream that would produce more is seen as such.
        var output = [UInt8](repeating: 0, count: expectedSize + 1)
        let produced = output.withUnsafeMutableBytes { out in
            ZSTD_decompress(out.baseAddress, out.count, base, input.count)
        }
        if ZSTD_isError(produced) != 0 {
            throw Failure(reason: "zstd: \(String(cString: ZSTD_getErrorName(produced)))")
        }
        guard produced == expectedSize else {
            throw Failure(reason: "zstd page gives \(produced) bytes where the header says \(expectedSize)")
        }
        output.removeLast()
        return output
    }
}
